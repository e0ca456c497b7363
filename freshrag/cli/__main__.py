from freshrag.cli.main import main

main()
