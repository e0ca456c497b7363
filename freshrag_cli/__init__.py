"""The `freshrag` command, outside the core: the composition root that builds the objects each process needs
and starts the API, the watcher, the workers and the scheduler."""
