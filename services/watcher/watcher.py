"""The folder watcher: watchdog events, debounced, enqueued as changes; reconcile on start and overflow."""

from __future__ import annotations

import logging
import time
from collections.abc import Hashable
from dataclasses import replace
from pathlib import Path
from typing import NamedTuple

from watchdog.events import (
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
    FileSystemMovedEvent,
)
from watchdog.observers import Observer

from freshrag.backfill import Arrivals
from freshrag.documents import Origin
from freshrag.queue import BrokerUnavailableError, ChangeQueue
from freshrag.sources import IgnoreRules, WatchedFolder, display_name, is_valid_name
from services.watcher.backlog import Backlog
from services.watcher.debounce import Debouncer

log = logging.getLogger(__name__)


class _Settling(NamedTuple):
    kind: str  # "file" or "dir"
    folder: WatchedFolder
    relative: str


_FILE_EVENTS = {"created", "modified", "deleted", "moved", "closed", "attrib"}


class _OverflowSignal(logging.Handler):
    """watchdog rebuilds its watches after an inotify queue overflow but only logs that events were lost;
    this turns that log line into a full reconcile, so lost events cost latency, never correctness."""

    def __init__(self, on_overflow: FolderWatcher) -> None:
        super().__init__(level=logging.WARNING)
        self._watcher = on_overflow

    def emit(self, record: logging.LogRecord) -> None:
        if "overflow" in record.getMessage().lower():
            self._watcher.reconcile_all()


class FolderWatcher(FileSystemEventHandler):
    """Watches folders recursively and enqueues a change per file once it has stopped changing; folder
    events (a directory created, deleted or moved) enqueue a reconcile of that folder. What cannot be
    enqueued while the broker is down is kept and sent once it is back."""

    def __init__(
        self, folders: list[WatchedFolder], rules: IgnoreRules, queue: ChangeQueue, settle_seconds: float
    ) -> None:
        self._folders = sorted(folders, key=lambda f: len(str(f.path)), reverse=True)  # nested: deepest wins
        self._rules = rules
        self._queue = queue
        self._debouncer = Debouncer(settle_seconds, self._fire)
        self._arrivals = Arrivals()
        self._backlog = Backlog(self._resend)
        self._observer = Observer()
        self._overflow = _OverflowSignal(self)

    def start(self) -> None:
        for folder in self._folders:
            folder.path.mkdir(parents=True, exist_ok=True)
            self._observer.schedule(self, str(folder.path), recursive=True)
        watchdog_log = logging.getLogger("watchdog.observers")
        if watchdog_log.level == logging.NOTSET or watchdog_log.level > logging.WARNING:
            watchdog_log.setLevel(logging.WARNING)  # the overflow warning must reach the handler
        watchdog_log.addHandler(self._overflow)
        self._debouncer.start()
        self._backlog.start()
        self._observer.start()
        # Events missed while nobody watched: compare each folder with the index.
        self.reconcile_all()

    def stop(self) -> None:
        logging.getLogger("watchdog.observers").removeHandler(self._overflow)
        self._observer.stop()
        self._observer.join(timeout=5)
        self._debouncer.stop()
        self._backlog.stop()

    def reconcile_all(self) -> None:
        for folder in self._folders:
            self._fire(_Settling("dir", folder, ""), time.time())

    def pending(self) -> int:
        """Changes seen but not yet enqueued (still settling, or waiting for the broker)."""
        return self._debouncer.pending() + len(self._backlog)

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type not in _FILE_EVENTS:
            return
        paths = [event.src_path]
        if isinstance(event, FileSystemMovedEvent):
            paths.append(event.dest_path)
        directory_event = isinstance(event, DirCreatedEvent | DirDeletedEvent | DirMovedEvent)
        if event.is_directory and not directory_event:
            return
        for raw in paths:
            self._note(Path(_text(raw)), directory=directory_event)

    def _note(self, path: Path, *, directory: bool) -> None:
        for folder in self._folders:
            relative = folder.relative(path)
            if relative is None or relative == ".":
                continue
            if self._rules.ignores(relative):
                return
            if not is_valid_name(relative):
                log.warning("not indexed: %s has a file name that is not valid UTF-8", display_name(relative))
                return
            key = _Settling("dir" if directory else "file", folder, relative)
            if not directory:
                self._arrivals.seen(key, time.time())
            self._debouncer.touch(key)
            return

    def _fire(self, key: Hashable, first_seen: float) -> None:
        # More files arriving together than anyone edits by hand: a bulk load (a folder copied in, a
        # checkout), reported as a backfill rather than as live edits.
        origin = Origin.BACKFILL if self._arrivals.bulk(first_seen) else Origin.LIVE
        try:
            self._send(key, first_seen, coalesce=True, origin=origin)
        except BrokerUnavailableError:
            self._backlog.hold(key, first_seen)
        except Exception:
            log.exception("could not enqueue %s; the next reconcile will find it", key)

    def _resend(self, key: Hashable, first_seen: float) -> None:
        self._send(key, first_seen, coalesce=False)  # a claim may have outlived the failed send

    def _send(
        self, key: Hashable, first_seen: float, *, coalesce: bool, origin: Origin = Origin.LIVE
    ) -> None:
        assert isinstance(key, _Settling)
        kind, folder, relative = key
        if kind == "dir":
            self._queue.reconcile(str(folder.path), relative)
        else:
            change = replace(folder.change_for(relative, detected_at=first_seen), origin=origin)
            self._queue.submit(change, coalesce=coalesce)


def _text(path: str | bytes) -> str:
    return path.decode("utf-8", "surrogateescape") if isinstance(path, bytes) else path
