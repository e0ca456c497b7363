"""The canary: a synthetic document written through the same path as a real change (queue, worker, loader,
parser, chunker, embedder, store), searched for until search finds it, then removed. Its end-to-end latency
is freshness as a user would measure it, on a schedule, whether or not anyone is editing.

Its current content lives in the health state, like a CMS entry in the journal: the worker reads the latest
state, so coalesced or reordered canary changes still converge. Search never shows it to users (it is
filtered out unless asked for by `source_kind`).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from freshrag.canary_document import CANARY_DOC_ID, CANARY_STATE
from freshrag.documents import Change, Op, SourceKind
from freshrag.queue import ChangeQueue
from freshrag.search import SearchService
from freshrag.state.health import HealthState

CANARY_RESULT = "canary:last"
CANARY_RUNNING = "canary:running"
# Each poll is a filtered search (a scan over plain segments): often enough to measure
# freshness to a fraction of a second, rarely enough to leave the store to the indexing it measures.
_POLL_SECONDS = 0.2


@dataclass(frozen=True)
class CanaryResult:
    outcome: str  # found, timeout, error
    latency_seconds: float | None
    at: float
    reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class Canary:
    def __init__(
        self,
        state: HealthState,
        queue: ChangeQueue,
        search: SearchService,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        stopping: threading.Event | None = None,
    ) -> None:
        self._state = state
        self._queue = queue
        self._search = search
        self._clock = clock
        self._sleep = sleep
        self._stopping = stopping or threading.Event()

    def run(self, timeout: float) -> CanaryResult | None:
        """Write a new canary, wait until search finds it (at most `timeout` seconds), then remove it.
        Returns None, doing nothing, while another canary is still in flight: the waiting run holds a
        worker slot, and a second one would take another slot from the very change it waits for. Returns
        None too, recording nothing, when `stopping` is set meanwhile: a stopping worker no longer runs
        the change the canary waits for, and its shutdown must not wait for the canary's timeout."""
        started = self._clock()
        running = self._state.get(CANARY_RUNNING)
        if running is not None and started - running["since"] < running["timeout"]:
            return None
        self._state.put(CANARY_RUNNING, {"since": started, "timeout": timeout})
        try:
            return self._probe(started, timeout)
        finally:
            self._state.put(CANARY_RUNNING, {"since": 0.0, "timeout": 0.0})

    def _probe(self, started: float, timeout: float) -> CanaryResult | None:
        nonce = secrets.token_hex(6)
        try:
            self._write(nonce, present=True, at=started)
            found = self._wait(lambda: self._found(nonce), started + timeout)
        except _Stopping:
            self._write(nonce, present=False, at=self._clock())
            return None
        except Exception as exc:
            result = CanaryResult("error", None, started, f"{type(exc).__name__}: {exc}")
        else:
            latency = self._clock() - started
            if found:
                result = CanaryResult("found", round(latency, 4), started)
            else:
                result = CanaryResult("timeout", None, started, f"not searchable after {timeout:g} s")
        try:
            self._write(nonce, present=False, at=self._clock())
        finally:
            self._state.put(CANARY_RESULT, result.to_json())
        return result

    def last(self) -> CanaryResult | None:
        data = self._state.get(CANARY_RESULT)
        return None if data is None else CanaryResult(**data)

    def _write(self, nonce: str, *, present: bool, at: float) -> None:
        self._state.put(CANARY_STATE, {"nonce": nonce, "present": present, "written_at": at})
        op = Op.UPSERT if present else Op.DELETE
        change = Change(CANARY_DOC_ID, op, SourceKind.CANARY, uri=f"canary://{nonce}", detected_at=at)
        self._queue.submit(change)

    def _found(self, nonce: str) -> bool:
        hits = self._search.search(f"canary probe {nonce}", 1, {"source_kind": SourceKind.CANARY.value})
        return any(nonce in hit.text for hit in hits.results)

    def _wait(self, probe: Callable[[], bool], deadline: float) -> bool:
        while not probe():
            if self._stopping.is_set():
                raise _Stopping
            if self._clock() >= deadline:
                return False
            self._sleep(_POLL_SECONDS)
        return True


class _Stopping(Exception):
    """The worker is stopping: the canary is abandoned, with nothing recorded."""
