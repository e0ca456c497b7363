"""Claims and debounce of the embedded mode (`InProcessPending`), on a clock the test moves: which change
gets a task, how long it waits, and what a retry keeps."""

from __future__ import annotations

import pytest

from freshrag.state import pending
from freshrag.state.pending import InProcessPending

INTERVAL = 1.0
TTL = 60.0


class Clock:
    """Stands in for the `time` module inside `freshrag.state.pending`: both clocks move together."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(pending, "time", fake)
    return fake


def test_a_change_to_a_quiet_document_runs_at_once_and_covers_later_ones(clock: Clock) -> None:
    claims = InProcessPending(TTL, INTERVAL)
    assert claims.claim("a", detected_at=clock.now) == 0.0
    clock.now += 0.1
    assert claims.claim("a", detected_at=clock.now) is None  # the waiting task re-reads the source
    assert claims.claim("b", detected_at=clock.now) == 0.0
    assert claims.depth() == 2


def test_a_change_during_a_run_waits_until_an_interval_after_the_run_began(clock: Clock) -> None:
    claims = InProcessPending(TTL, INTERVAL)
    claims.claim("a", detected_at=clock.now)
    claims.started("a")
    assert claims.waiting("a") is None
    clock.now += 0.3
    assert claims.claim("a", detected_at=clock.now) == pytest.approx(0.7)
    clock.now += 0.2
    assert claims.claim("a", detected_at=clock.now) is None  # a burst of saves: still one task
    claims.started("a")
    clock.now += INTERVAL + 0.1
    assert claims.claim("a", detected_at=clock.now) == 0.0  # quiet again: no wait


def test_a_claim_lapses_with_the_task_expiry(clock: Clock) -> None:
    claims = InProcessPending(TTL, INTERVAL)
    claims.claim("a", detected_at=clock.now)
    clock.now += TTL + 1  # its message was lost: the document must not stay silenced
    assert claims.claim("a", detected_at=clock.now) == 0.0


def test_a_retry_keeps_the_claim_and_the_earliest_detection_time(clock: Clock) -> None:
    claims = InProcessPending(TTL, INTERVAL)
    first = clock.now
    claims.claim("a", detected_at=first)
    clock.now += 5
    claims.retrying("a", detected_at=clock.now)
    assert claims.waiting("a") == first
    assert claims.claim("a", detected_at=clock.now) is None  # the retry covers new changes
    assert claims.oldest_age() == pytest.approx(5.0)
    claims.started("a")
    assert (claims.depth(), claims.oldest_age()) == (0, 0.0)
