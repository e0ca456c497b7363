"""Watched folders: file-system events become changes on the queue."""

from services.watcher.watcher import FolderWatcher

__all__ = ["FolderWatcher"]
