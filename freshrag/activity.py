"""Recent activity, as the status page and the scheduled checks read it: applied changes with their latency,
and user queries with their best score and embedding (for knowledge gaps and query drift)."""

from __future__ import annotations

import base64
import logging
import queue
import threading
import time
from typing import Any

import numpy as np

from freshrag.documents import Change, Op, Origin, SourceKind
from freshrag.state.health import ANSWERS, CHANGES, QUERIES, HealthState

log = logging.getLogger(__name__)

FRESHNESS_SLO_SECONDS = 60.0
# Freshness is judged over the live changes of this recent window: what the status says is true now, and a
# quiet hour is not a failing one.
FRESHNESS_WINDOW_SECONDS = 900.0
CHANGES_SHOWN = 20
GAPS_SHOWN = 20
QUERY_BACKLOG = 10_000
QUERY_BATCH = 500  # queries written in one transaction at most
QUERY_BATCH_SECONDS = 0.25  # how long a batch waits for more queries after its first


class Activity:
    """Writes recent activity to the shared health state. Monitoring must never cost a change or a search:
    a failed write is logged (once a minute at most) and dropped, and queries are written by a background
    thread, so a search never waits on Redis or SQLite (at most `QUERY_BACKLOG` wait; beyond, they are
    dropped). Under load the thread writes whatever queued up since its last write in one transaction, and
    handing it a query is a lock-free put, so twenty concurrent searches do not queue on a lock to log. The
    thread wakes once a batch, not once a query: each wake-up is a thread that wants the GIL while the
    searches need it."""

    def __init__(self, state: HealthState, clock: Any = time.time) -> None:
        self._state = state
        self._clock = clock
        self._last_complaint = 0.0
        # Queries to write, and flush requests (an Event set once everything before it is written).
        self._queries: queue.SimpleQueue[dict[str, Any] | threading.Event] = queue.SimpleQueue()
        self._hurry = threading.Event()  # set by `flush`: write what is queued now
        self._writer = threading.Thread(target=self._write_queries, name="freshrag-query-log", daemon=True)
        self._writer.start()

    def changed(self, change: Change, outcome: str, latency: float | None, reason: str | None) -> None:
        if change.source_kind is SourceKind.CANARY:
            return  # its own result is kept apart; logging it would crowd real changes out
        entry = {
            "doc_id": change.doc_id,
            "uri": change.uri,
            "source_kind": change.source_kind.value,
            "op": Op.DELETE.value if outcome == "deleted" else Op.UPSERT.value,
            "origin": change.origin.value,
            "outcome": outcome,
            "latency_seconds": None if latency is None else round(latency, 4),
            "at": self._clock(),
            "reason": reason,
        }
        self._append(CHANGES, entry)

    def searched(
        self,
        query: str,
        top_score: float | None,
        vector: np.ndarray,
        model: str,
        *,
        unanswered: bool = False,
    ) -> None:
        """Log a user's query; `unanswered` marks one an answer was refused for (a knowledge gap)."""
        entry: dict[str, Any] = {
            "query": query[:500],
            "top_score": None if top_score is None else round(top_score, 4),
            "at": self._clock(),
            "model": model,
            "vector": encode_vector(vector),
        }
        if unanswered:
            entry["unanswered"] = True
        if self._queries.qsize() < QUERY_BACKLOG:
            self._queries.put(entry)

    def answered(self, entry: dict[str, Any]) -> None:
        """Log one answer of POST /ask (see `freshrag.answers.service.log_entry`)."""
        self._append(ANSWERS, entry)

    def flush(self, timeout: float = 5.0) -> None:
        """Wait until the queries searched so far are written (tests, shutdown)."""
        written = threading.Event()
        self._queries.put(written)
        self._hurry.set()
        written.wait(timeout)

    def _write_queries(self) -> None:
        while True:
            batch = self._next_batch()
            self._extend(QUERIES, [entry for entry in batch if isinstance(entry, dict)])
            for flushed in batch:
                if isinstance(flushed, threading.Event):
                    flushed.set()

    def _next_batch(self) -> list[dict[str, Any] | threading.Event]:
        """The queries (and flush requests) queued within `QUERY_BATCH_SECONDS` of the first, up to
        `QUERY_BATCH`. The thread sleeps through the window rather than waking for each query that arrives
        (20 clients: 270 wake-ups a second, each a GIL handoff on the searches' path); a flush request, or
        a backlog of a full batch, cuts the window short."""
        first = self._queries.get()
        if not isinstance(first, threading.Event) and self._queries.qsize() < QUERY_BATCH:
            self._hurry.wait(QUERY_BATCH_SECONDS)
        self._hurry.clear()
        batch = [first]
        while len(batch) < QUERY_BATCH:
            try:
                batch.append(self._queries.get_nowait())
            except queue.Empty:
                break
        return batch

    def _append(self, log_name: str, entry: dict[str, Any]) -> None:
        self._extend(log_name, [entry])

    def _extend(self, log_name: str, entries: list[dict[str, Any]]) -> None:
        if not entries:
            return
        try:
            self._state.extend(log_name, entries)
        except Exception as exc:
            now = time.monotonic()
            if now - self._last_complaint > 60:
                self._last_complaint = now
                log.warning("could not record %s activity (monitoring only): %s", log_name, exc)


def encode_vector(vector: np.ndarray) -> str:
    """A unit vector as base64 float16: 768 bytes for 384 dimensions, precise enough for centroids."""
    return base64.b64encode(np.asarray(vector, dtype=np.float16).tobytes()).decode("ascii")


def decode_vectors(encoded: list[str]) -> np.ndarray:
    rows = [np.frombuffer(base64.b64decode(text), dtype=np.float16) for text in encoded]
    return np.vstack(rows).astype(np.float32) if rows else np.zeros((0, 0), dtype=np.float32)


def freshness(
    changes: list[dict[str, Any]],
    now: float,
    slo_seconds: float = FRESHNESS_SLO_SECONDS,
    window_seconds: float = FRESHNESS_WINDOW_SECONDS,
) -> dict[str, Any]:
    """p50 and p99 latency of the live changes applied within `window_seconds` before `now`, and the share
    within the SLO. Backfills and the canary are left out; with no live change in the window there is
    nothing to judge (`changes` 0, the figures None), which is not a failure."""
    latencies = np.array(
        [
            entry["latency_seconds"]
            for entry in changes
            if entry.get("latency_seconds") is not None
            and entry.get("source_kind") != SourceKind.CANARY.value
            and entry.get("origin", Origin.LIVE.value) == Origin.LIVE.value
            and entry.get("at", now) >= now - window_seconds
        ],
        dtype=np.float64,
    )
    judged = {"slo_seconds": slo_seconds, "window_seconds": window_seconds}
    if latencies.size == 0:
        return {"changes": 0, "p50_seconds": None, "p99_seconds": None, "within_slo": None} | judged
    return {
        "changes": int(latencies.size),
        "p50_seconds": round(float(np.percentile(latencies, 50)), 4),
        "p99_seconds": round(float(np.percentile(latencies, 99)), 4),
        "within_slo": round(float(np.mean(latencies <= slo_seconds)), 4),
    } | judged


def knowledge_gaps(
    queries: list[dict[str, Any]], gap_score: float, limit: int = GAPS_SHOWN
) -> list[dict[str, Any]]:
    """Recent queries whose best score is below `gap_score` (or that found nothing, or that an answer was
    refused for), grouped by their normalised text: the questions the corpus does not answer, most asked
    first."""
    gaps: dict[str, dict[str, Any]] = {}
    for entry in queries:  # newest first
        score = entry.get("top_score")
        if score is not None and score >= gap_score and not entry.get("unanswered"):
            continue
        key = " ".join(str(entry["query"]).lower().split())
        seen = gaps.get(key)
        if seen is None:
            gaps[key] = {"query": entry["query"], "top_score": score, "count": 1, "last_seen": entry["at"]}
        else:
            seen["count"] += 1
    ranked = sorted(gaps.values(), key=lambda gap: (-gap["count"], -gap["last_seen"]))
    return ranked[:limit]
