"""Per-document locks: no two workers write the same document at once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol


class DocumentLocks(Protocol):
    def hold(self, doc_id: str) -> AbstractContextManager[None]: ...


class InProcessLocks:
    """Locks for the embedded mode, where every worker is a thread of one process."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, tuple[threading.Lock, int]] = {}

    @contextmanager
    def hold(self, doc_id: str) -> Iterator[None]:
        with self._guard:
            lock, users = self._locks.get(doc_id, (threading.Lock(), 0))
            self._locks[doc_id] = (lock, users + 1)
        try:
            with lock:
                yield
        finally:
            with self._guard:
                lock, users = self._locks[doc_id]
                if users == 1:
                    del self._locks[doc_id]
                else:
                    self._locks[doc_id] = (lock, users - 1)
