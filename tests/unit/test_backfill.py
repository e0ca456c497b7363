"""Telling bulk loads from live edits, and the progress of a backfill run."""

from __future__ import annotations

from typing import Any

from freshrag.backfill import (
    BURST_DOCUMENTS,
    BURST_RATE_DOCUMENTS,
    BURST_WINDOW_SECONDS,
    RUN_GAP_SECONDS,
    STALLED_SECONDS,
    Arrivals,
    BackfillProgress,
    BurstDetector,
    describe,
)
from freshrag.documents import Change, Op, Origin, SourceKind


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class MemoryState:
    """The part of `HealthState` that progress uses, in a dict."""

    def __init__(self) -> None:
        self.values: dict[str, dict[str, Any]] = {}
        self.counters: dict[str, int] = {}

    def put(self, key: str, value: dict[str, Any]) -> None:
        self.values[key] = value

    def get(self, key: str) -> dict[str, Any] | None:
        return self.values.get(key)

    def add(self, counter: str, amount: int) -> int:
        self.counters[counter] = self.counters.get(counter, 0) + amount
        return self.counters[counter]

    def counter(self, counter: str) -> int:
        return self.counters.get(counter, 0)


def change(name: str, origin: Origin = Origin.LIVE) -> Change:
    return Change(f"file:inbox/{name}", Op.UPSERT, SourceKind.FILE, uri=f"/inbox/{name}", origin=origin)


def test_changes_round_trip_their_origin_and_old_messages_are_live() -> None:
    backfill = change("a.md", Origin.BACKFILL)
    assert Change.from_message(backfill.to_message()) == backfill
    old = backfill.to_message()
    del old["origin"]
    assert Change.from_message(old).origin is Origin.LIVE


def test_files_copied_in_together_are_a_bulk_load_first_files_included() -> None:
    arrivals = Arrivals()
    start = 5000.0
    for n in range(63):
        arrivals.seen(f"note-{n}.md", start + n * 0.001)
    assert arrivals.bulk(start)  # the first file of the copy: the others came right after it
    assert arrivals.bulk(start + 0.062)
    for _ in range(50):  # one file saved over and over is someone editing it
        arrivals.seen("draft.md", start + 100)
    assert not arrivals.bulk(start + 100)
    for n in range(BURST_DOCUMENTS):  # a few files saved at once by hand: the limit is above that
        arrivals.seen(f"page-{n}.md", start + 200 + n)
    assert not arrivals.bulk(start + 200)


def test_a_burst_of_documents_is_a_backfill_and_editing_one_document_is_not() -> None:
    clock = Clock()
    bursts = BurstDetector(clock=clock)
    for _ in range(100):  # one document saved over and over is someone editing it
        assert bursts.classify(change("draft.md")).origin is Origin.LIVE
    origins = [bursts.classify(change(f"{n}.md")).origin for n in range(BURST_RATE_DOCUMENTS + 5)]
    assert origins[: BURST_RATE_DOCUMENTS - 1] == [Origin.LIVE] * (BURST_RATE_DOCUMENTS - 1)
    assert origins[BURST_RATE_DOCUMENTS:] == [Origin.BACKFILL] * 5
    clock.now += BURST_WINDOW_SECONDS + 1
    assert bursts.classify(change("later.md")).origin is Origin.LIVE  # the burst is over
    assert bursts.classify(change("x.md", Origin.BACKFILL)).origin is Origin.BACKFILL


def test_a_backfill_run_counts_what_it_queued_and_did_then_a_new_run_starts() -> None:
    clock, state = Clock(), MemoryState()
    progress = BackfillProgress(state, clock)
    assert progress.summary() is None
    assert describe(None) is None
    progress.queued(63)
    progress.done(40)
    summary = progress.summary()
    assert summary is not None
    assert (summary["queued"], summary["done"], summary["state"]) == (63, 40, "running")
    assert describe(summary) == "backfill: 40 of 63 applied"
    progress.queued(2)  # more of the same run while it is running
    progress.done(25)
    summary = progress.summary()
    assert summary is not None
    assert describe(summary) == "backfill: 65 of 65 applied, finished"
    progress.queued(1)  # right after: the same run (the workers kept up with it)
    progress.done(1)
    summary = progress.summary()
    assert summary is not None
    assert (summary["queued"], summary["done"]) == (66, 66)
    clock.now += RUN_GAP_SECONDS + 1
    progress.queued(3)  # the next reconcile: a run of its own
    summary = progress.summary()
    assert summary is not None
    assert (summary["queued"], summary["done"], summary["state"]) == (3, 0, "running")
    clock.now += STALLED_SECONDS + 1
    summary = progress.summary()
    assert summary is not None
    assert summary["state"] == "stalled"
    progress.queued(5)  # a stalled run is given up: the next backfill starts afresh
    summary = progress.summary()
    assert summary is not None
    assert (summary["queued"], summary["done"]) == (5, 0)
