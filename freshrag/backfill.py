"""Backfills: bulk loads told apart from live edits, and their progress.

A backfill (the start-up or a scheduled reconcile, `freshrag ingest`, a burst of files copied in at once) is
catching up, not someone waiting on an edit: its changes carry `Origin.BACKFILL`, their latency is kept out
of the freshness SLO of live edits, and the status shows the run's progress instead ("backfill: 40 of 63
applied"). A run begins with the first backfill change queued once the previous run has finished and been
quiet for RUN_GAP_SECONDS (or has stalled), and counts the changes queued and the changes done (applied,
skipped, failed or dead-lettered) since then: a reconcile that the workers keep up with is one run, not one
run per change.
"""

from __future__ import annotations

import bisect
import contextlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any, Protocol

from freshrag.documents import Change, Origin, SourceKind

log = logging.getLogger(__name__)

# A file first seen within BURST_WINDOW_SECONDS of more than BURST_DOCUMENTS other files in a watched folder
# is part of a bulk load (a folder copied in, a checkout), its first files included. Changes submitted after
# more than BURST_RATE_DOCUMENTS distinct documents within the window (a CMS import) are one too. Both are
# far above what people editing produce.
BURST_DOCUMENTS = 10
BURST_RATE_DOCUMENTS = 30
BURST_WINDOW_SECONDS = 10.0
# A run with changes still queued and none done for this long is reported as stalled, and the next backfill
# starts a run of its own (a message lost with a worker is found again by the next reconcile).
STALLED_SECONDS = 600.0
RUN_GAP_SECONDS = 30.0

_QUEUED = "backfill:queued"
_DONE = "backfill:done"
_RUN = "backfill:run"
_PROGRESS = "backfill:progress"


class BurstDetector:
    """Marks the live changes of a burst as a backfill: once more than `limit` distinct documents changed
    within `window` seconds, the changes that follow (until the rate drops) are a bulk load. Thread-safe."""

    def __init__(
        self,
        limit: int = BURST_RATE_DOCUMENTS,
        window: float = BURST_WINDOW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._limit = limit
        self._window = window
        self._clock = clock
        self._lock = threading.Lock()
        self._recent: OrderedDict[str, float] = OrderedDict()  # doc_id -> last change, oldest first

    def classify(self, change: Change) -> Change:
        """`change` as it should be reported: as it is, or marked as a backfill when part of a burst."""
        if change.origin is not Origin.LIVE or change.source_kind is SourceKind.CANARY:
            return change
        now = self._clock()
        with self._lock:
            self._recent.pop(change.doc_id, None)
            self._recent[change.doc_id] = now
            while self._recent and next(iter(self._recent.values())) < now - self._window:
                self._recent.popitem(last=False)
            burst = len(self._recent) > self._limit
        return replace(change, origin=Origin.BACKFILL) if burst else change


class SharedCounters(Protocol):
    """What progress needs of the shared health state (`freshrag.state.health.HealthState` has it)."""

    def put(self, key: str, value: dict[str, Any]) -> None: ...

    def get(self, key: str) -> dict[str, Any] | None: ...

    def add(self, counter: str, amount: int) -> int: ...

    def counter(self, counter: str) -> int: ...


class Arrivals:
    """When the files of watched folders were first seen, to tell a bulk load from editing: a file is part of
    a bulk load when more than `limit` other files were first seen within `window` seconds of it, before or
    after (by the time a file has settled, the files copied with it have been seen). Thread-safe."""

    def __init__(self, limit: int = BURST_DOCUMENTS, window: float = BURST_WINDOW_SECONDS) -> None:
        self._limit = limit
        self._window = window
        self._lock = threading.Lock()
        self._times: list[float] = []  # first sightings in the last two windows, in order
        self._first: dict[object, float] = {}  # key -> its first sighting, for the same keys

    def seen(self, key: object, at: float) -> None:
        with self._lock:
            horizon = at - 2 * self._window
            if self._first.get(key, horizon - 1) >= horizon:
                return  # saved again: one file, however many events
            if self._times and at < self._times[-1]:
                at = self._times[-1]  # a clock step back: keep the list in order
            self._first[key] = at
            self._times.append(at)
            if self._times[0] < horizon - self._window:  # forget old sightings once a window, not per event
                del self._times[: bisect.bisect_left(self._times, horizon)]
                self._first = {k: t for k, t in self._first.items() if t >= horizon}

    def bulk(self, at: float) -> bool:
        """Whether a file first seen at `at` came with more than `limit` others."""
        with self._lock:
            low = bisect.bisect_left(self._times, at - self._window)
            high = bisect.bisect_right(self._times, at + self._window)
        return high - low - 1 > self._limit


class BackfillProgress:
    """The progress of the current backfill run, in the shared health state (monitoring only: a failed write
    is logged and dropped, never raised into the indexing path)."""

    def __init__(self, state: SharedCounters, clock: Callable[[], float] = time.time) -> None:
        self._state = state
        self._clock = clock

    def queued(self, count: int = 1) -> None:
        """`count` backfill changes were queued (or, for `freshrag ingest`, planned)."""
        if count <= 0:
            return
        with _monitoring_only("queued"):
            now = self._clock()
            summary = self.summary()
            if (
                summary is None
                or summary["state"] == "stalled"
                or (summary["state"] == "done" and now - summary["last_progress_at"] > RUN_GAP_SECONDS)
            ):
                self._state.put(
                    _RUN,
                    {
                        "queued_from": self._state.counter(_QUEUED),
                        "done_from": self._state.counter(_DONE),
                        "started_at": now,
                    },
                )
            self._state.add(_QUEUED, count)
            self._state.put(_PROGRESS, {"at": now})

    def done(self, count: int = 1) -> None:
        """`count` backfill changes were applied (whatever their outcome) or dead-lettered."""
        if count <= 0:
            return
        with _monitoring_only("done"):
            self._state.add(_DONE, count)
            self._state.put(_PROGRESS, {"at": self._clock()})

    def summary(self) -> dict[str, Any] | None:
        """The latest run: `queued`, `done`, `started_at`, `last_progress_at` and `state` (running, done or
        stalled); None when there never was one."""
        run = self._state.get(_RUN)
        if run is None:
            return None
        queued = self._state.counter(_QUEUED) - int(run["queued_from"])
        done = min(self._state.counter(_DONE) - int(run["done_from"]), queued)  # a redelivery counts twice
        progress = self._state.get(_PROGRESS)
        last = max(float(run["started_at"]), float(progress["at"]) if progress else 0.0)
        stalled = self._clock() - last > STALLED_SECONDS
        state = "done" if done >= queued else "stalled" if stalled else "running"
        return {
            "queued": queued,
            "done": done,
            "started_at": float(run["started_at"]),
            "last_progress_at": last,
            "state": state,
        }


def describe(summary: dict[str, Any] | None) -> str | None:
    """The status line of a backfill run: "backfill: 40 of 63 applied" (None when there never was one)."""
    if summary is None:
        return None
    line = f"backfill: {summary['done']} of {summary['queued']} applied"
    if summary["state"] == "done":
        return line + ", finished"
    if summary["state"] == "stalled":
        return line + ", stalled"
    return line


@contextlib.contextmanager
def _monitoring_only(what: str) -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        log.warning("could not record backfill progress (%s; monitoring only): %s", what, exc)
