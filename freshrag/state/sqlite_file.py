"""One way to open the embedded mode's SQLite files: WAL, one connection per process, one writer at a time.

Every embedded store (the document records, the model registry, the health state, the feedback log, the dead
letters, the webhook journal) keeps its file through a `SqliteFile`. WAL lets readers in other processes go on
while one writes. A connection is never used across a fork (SQLite forbids it): a forked child, such as a
Celery prefork worker, opens its own on first use, with a fresh lock (one held by a parent thread at the fork
would never be released in the child).
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

Synchronous = Literal["FULL", "NORMAL"]


class SqliteFile:
    """A SQLite database file shared by the threads of a process.

    `synchronous` is FULL where a commit must be on disk before it is acknowledged (the registry, the
    journal), NORMAL where losing the last moments in a power cut is acceptable (monitoring history).
    `schema` (statements, run once at opening) creates what is missing. `per_use` opens the file for each
    use instead of keeping one connection: for a store used rarely (the dead letters), which then notices at
    once when its file is replaced or can no longer be opened."""

    def __init__(
        self, path: Path, *, synchronous: Synchronous = "FULL", schema: str = "", per_use: bool = False
    ) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._synchronous: Synchronous = synchronous
        self._per_use = per_use
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._db: sqlite3.Connection | None = None
        if schema:
            with self.connection() as db:
                db.executescript(schema)

    @contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        """The process' connection, in autocommit mode (each statement commits), this thread's alone for
        the block."""
        if self._pid != os.getpid():  # forked: the parent's lock and connection are not ours
            self._lock, self._db, self._pid = threading.Lock(), None, os.getpid()
        with self._lock:
            if self._per_use:
                db = self._open()
                try:
                    yield db
                finally:
                    db.close()
                return
            if self._db is None:
                self._db = self._open()
            yield self._db

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")  # outside any transaction, where SQLite allows it
        db.execute(f"PRAGMA synchronous={self._synchronous}")
        return db

    @contextmanager
    def transaction(self, *, durable: bool = True) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE: the write lock taken at once), committed at the end of
        the block and rolled back on any error. `durable=False` skips the fsync of the commit, for what a
        crash may lose harmlessly (the file's own `synchronous` applies otherwise)."""
        with self.connection() as db:
            db.execute(f"PRAGMA synchronous={self._synchronous if durable else 'NORMAL'}")
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:  # never leave the shared connection inside a failed transaction
                    db.execute("ROLLBACK")
                raise

    def close(self) -> None:
        with self._lock:
            if self._db is not None and self._pid == os.getpid():
                self._db.close()
            self._db = None
