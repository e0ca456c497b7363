"""Per-document locks, so that no two workers write the same document at once, and the run lock, so that
one fine-tune run or model switch runs at a time across every process."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Protocol

import redis
from filelock import FileLock, Timeout
from redis.exceptions import LockError
from redis.lock import Lock

log = logging.getLogger(__name__)


class LockTimeoutError(RuntimeError):
    """Another worker held the document's lock for longer than we were willing to wait (transient)."""


class DocumentLocks(Protocol):
    def hold(self, doc_id: str) -> AbstractContextManager[None]: ...

    def held(self) -> list[str]:
        """The documents locked right now, by any worker."""
        ...


def barrier(locks: DocumentLocks) -> int:
    """Wait until every document locked now has been released once: a change that began before this call
    has finished when it returns. Returns how many locks it waited for."""
    held = locks.held()
    for doc_id in held:
        with locks.hold(doc_id):
            pass
    return len(held)


class InProcessLocks:
    """Locks for the embedded mode, where every worker is a thread of one process."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, tuple[threading.Lock, int]] = {}

    def held(self) -> list[str]:
        with self._guard:
            return list(self._locks)

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


class RedisLocks:
    """Locks in Redis for workers on many machines. Each lock has a short TTL that a background thread keeps
    renewing while it is held, so a worker killed mid-change frees its documents within `ttl` seconds
    rather than blocking them until a long timeout."""

    PREFIX = "freshrag:lock:"

    def __init__(self, client: redis.Redis, ttl_seconds: float = 30.0, wait_seconds: float = 120.0) -> None:
        self._client = client
        self._ttl = ttl_seconds
        self._wait = wait_seconds
        self._guard = threading.Lock()
        self._held: dict[str, Lock] = {}
        self._renewer: threading.Thread | None = None

    def held(self) -> list[str]:
        return [
            (key.decode() if isinstance(key, bytes) else str(key))[len(self.PREFIX) :]
            for key in self._client.scan_iter(match=self.PREFIX + "*", count=1000)
        ]

    @contextmanager
    def hold(self, doc_id: str) -> Iterator[None]:
        lock = self._client.lock(
            self.PREFIX + doc_id,
            timeout=self._ttl,
            blocking_timeout=self._wait,
            thread_local=False,
        )
        if not lock.acquire(token=uuid.uuid4().hex):
            raise LockTimeoutError(f"{doc_id}: locked by another worker for over {self._wait:.0f} s")
        key = f"{doc_id}\0{id(lock)}"
        with self._guard:
            self._held[key] = lock
            self._start_renewer()
        try:
            yield
        finally:
            with self._guard:
                del self._held[key]
            with contextlib.suppress(LockError):  # expired while Redis was unreachable: nothing to free
                lock.release()

    def _start_renewer(self) -> None:
        if self._renewer is None or not self._renewer.is_alive():
            self._renewer = threading.Thread(target=self._renew, name="freshrag-lock-renewer", daemon=True)
            self._renewer.start()

    def _renew(self) -> None:
        while True:
            time.sleep(self._ttl / 3)
            with self._guard:
                held = list(self._held.values())
                if not held:
                    self._renewer = None
                    return
            for lock in held:
                try:
                    lock.reacquire()
                except (LockError, redis.RedisError) as exc:
                    log.warning("could not renew the lock %s: %s", lock.name, exc)


class RunLock(Protocol):
    def hold(self, what: str) -> AbstractContextManager[None]:
        """Hold the lock of fine-tune runs and model switches; `LockTimeoutError` at once when it is taken."""
        ...


class FileRunLock:
    """The embedded mode's run lock: a lock file under the data dir, which `freshrag finetune` or
    `freshrag models` run beside a stopped server also take."""

    def __init__(self, path: Path) -> None:
        self._path = path

    @contextmanager
    def hold(self, what: str) -> Iterator[None]:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(self._path), timeout=0)
        try:
            lock.acquire()
        except Timeout:
            raise LockTimeoutError(f"{what}: held by another process") from None
        try:
            yield
        finally:
            lock.release()


class _RunLocks(RedisLocks):
    PREFIX = "freshrag:run-lock:"  # apart from document locks: a switch's barrier must not wait for itself


class RedisRunLock:
    """The distributed mode's run lock, in the broker's Redis (renewed while held, like document locks)."""

    def __init__(self, client: redis.Redis) -> None:
        self._locks = _RunLocks(client, ttl_seconds=60, wait_seconds=0.05)

    def hold(self, what: str) -> AbstractContextManager[None]:
        return self._locks.hold(what)
