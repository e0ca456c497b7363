from freshrag_cli.main import main

main()
