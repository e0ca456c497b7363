"""Whether this process can write its data dir, as its latest writes found out.

A data dir that turned read-only (a remount after a disk error, a full volume) fails every write the same
way, so what matters is saying so once, loudly and where operators look: `/readyz` answers 503 with the
reason, `freshrag_storage_writable` drops to 0, and the log has one line per interval, not one per attempt.
The changes themselves wait and are retried with backoff; nothing is dropped.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from prometheus_client import Gauge

log = logging.getLogger(__name__)

# At most one log line per this many seconds while writes keep failing.
REPORT_EVERY_SECONDS = 60.0


class StorageHealth:
    """The last known writability of the data dir. Safe to call from several threads."""

    def __init__(
        self,
        gauge: Gauge,
        *,
        report_every: float = REPORT_EVERY_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._gauge = gauge
        self._report_every = report_every
        self._clock = clock
        self._lock = threading.Lock()
        self._problem: str | None = None
        self._unreported = 0
        self._reported_at: float | None = None

    def failed(self, path: Path, exc: BaseException) -> None:
        """A write under `path` failed: not ready until a write succeeds; logged once per interval."""
        problem = f"data dir not writable: {path}: {type(exc).__name__}: {exc}"
        with self._lock:
            self._problem = problem
            self._unreported += 1
            now = self._clock()
            if self._reported_at is not None and now - self._reported_at < self._report_every:
                return
            failures, self._unreported, self._reported_at = self._unreported, 0, now
            self._gauge.set(0)
        log.error(
            "%s (%d failed writes since the last report; the changes wait and are retried with backoff)",
            problem,
            failures,
        )

    def wrote(self) -> None:
        """A write succeeded: the data dir is writable (again)."""
        with self._lock:
            if self._problem is None:
                return
            self._problem, self._unreported, self._reported_at = None, 0, None
            self._gauge.set(1)
        log.warning("data dir writable again: the waiting changes are applied as their retries come")

    def problem(self) -> str | None:
        """Why the data dir is not writable, or None while it is."""
        with self._lock:
            return self._problem
