"""Changes the watcher could not enqueue because the broker was down, sent again once it is back."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Hashable

from freshrag.queue import BrokerUnavailableError

log = logging.getLogger(__name__)


class Backlog:
    """Holds what `send(key, first_seen)` refused with `BrokerUnavailableError` and retries it on a thread,
    oldest first, every `interval` seconds until the broker takes it. A key held twice is sent once."""

    def __init__(self, send: Callable[[Hashable, float], None], interval: float = 1.0) -> None:
        self._send = send
        self._interval = interval
        self._lock = threading.Lock()
        self._held: dict[Hashable, float] = {}
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="freshrag-backlog", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=5)

    def hold(self, key: Hashable, first_seen: float) -> None:
        with self._lock:
            if not self._held:
                log.warning("the broker is unreachable: keeping changes until it is back")
            self._held.setdefault(key, first_seen)

    def __len__(self) -> int:
        with self._lock:
            return len(self._held)

    def _run(self) -> None:
        while not self._stopped.wait(self._interval):
            with self._lock:
                waiting = sorted(self._held.items(), key=lambda item: item[1])
            if waiting and self._resend(waiting):
                log.info("the broker is back: sent %d changes kept while it was unreachable", len(waiting))

    def _resend(self, waiting: list[tuple[Hashable, float]]) -> bool:
        for key, first_seen in waiting:
            try:
                self._send(key, first_seen)
            except BrokerUnavailableError:
                return False
            with self._lock:
                self._held.pop(key, None)
        return True
