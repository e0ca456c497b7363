"""Waiting until a file has stopped changing before it is enqueued."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable


class Debouncer:
    """Calls `fire(key, first_seen)` once no `touch(key)` has come for `settle` seconds.

    A burst of writes to one file (an editor saving, a slow copy) becomes one call, made when the burst
    is over; `first_seen` is when the burst began, so latency is measured from the first event.
    """

    def __init__(self, settle: float, fire: Callable[[Hashable, float], None]) -> None:
        self._settle = settle
        self._fire = fire
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._due: dict[Hashable, tuple[float, float]] = {}  # key -> (first seen, last seen)
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="freshrag-debounce", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        with self._wake:
            self._stopped = True
            self._wake.notify()
        self._thread.join(timeout=5)

    def touch(self, key: Hashable, when: float | None = None) -> None:
        now = time.monotonic()
        with self._wake:
            first, _ = self._due.get(key, (when if when is not None else time.time(), now))
            self._due[key] = (first, now)
            self._wake.notify()

    def pending(self) -> int:
        with self._lock:
            return len(self._due)

    def _run(self) -> None:
        while True:
            ready: list[tuple[Hashable, float]] = []
            with self._wake:
                if self._stopped:
                    return
                now = time.monotonic()
                next_due = None
                for key, (first, last) in list(self._due.items()):
                    due = last + self._settle
                    if due <= now:
                        ready.append((key, first))
                        del self._due[key]
                    elif next_due is None or due < next_due:
                        next_due = due
                if not ready:
                    self._wake.wait(None if next_due is None else next_due - now)
                    continue
            for key, first in ready:
                self._fire(key, first)
