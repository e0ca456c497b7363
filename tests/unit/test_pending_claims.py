"""Claims and debounce of the embedded mode (`InProcessPending`), on a clock the test moves: which change
gets a task, how long it waits, and what a retry keeps."""

from __future__ import annotations

import pytest

from freshrag.state import pending
from freshrag.state.pending import InProcessPending, PendingChanges

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


# A claim and its task: what a retry keeps, and what a later change takes. These run on `RedisPending` too
# (tests/integration/test_pending_claims_redis.py).


@pytest.fixture
def claims() -> PendingChanges:
    return InProcessPending(TTL, interval_seconds=0)


def test_a_failed_run_goes_back_to_waiting_under_its_own_claim(claims: PendingChanges) -> None:
    assert claims.claim("a", detected_at=100.0, by="first") == 0.0
    claims.started("a", "first")
    assert (claims.waiting("a"), claims.depth()) == (None, 0)  # running: not waiting any more

    assert claims.retrying("a", detected_at=100.0, by="first")

    assert (claims.waiting("a"), claims.depth()) == (100.0, 1)
    assert claims.claim("a", detected_at=105.0, by="second") is None  # the retry covers it
    claims.started("a", "first")
    claims.finished("a", "first")
    assert (claims.waiting("a"), claims.depth()) == (None, 0)
    assert claims.claim("a", detected_at=110.0, by="third") == 0.0


def test_a_change_made_during_a_failed_run_covers_its_retry(claims: PendingChanges) -> None:
    claims.claim("a", detected_at=100.0, by="first")
    claims.started("a", "first")
    assert claims.claim("a", detected_at=105.0, by="second") == 0.0  # its own task: the run read already

    assert not claims.retrying("a", detected_at=100.0, by="first")  # the second task re-reads the source

    assert (claims.waiting("a"), claims.depth()) == (100.0, 1)  # pending since the first detection
    claims.started("a", "second")
    claims.finished("a", "second")
    assert (claims.waiting("a"), claims.depth()) == (None, 0)


def test_a_failed_run_is_retried_when_the_later_changes_run_is_under_way(claims: PendingChanges) -> None:
    claims.claim("a", detected_at=100.0, by="first")
    claims.started("a", "first")
    claims.claim("a", detected_at=105.0, by="second")
    claims.started("a", "second")  # it may have read the source before the first run failed

    assert claims.retrying("a", detected_at=100.0, by="first")


def test_a_run_that_ends_leaves_the_claim_of_a_change_made_meanwhile(claims: PendingChanges) -> None:
    claims.claim("a", detected_at=100.0, by="first")
    claims.started("a", "first")
    claims.claim("a", detected_at=105.0, by="second")

    claims.finished("a", "first")

    assert (claims.waiting("a"), claims.depth()) == (105.0, 1)
    assert claims.claim("a", detected_at=106.0, by="third") is None


def test_a_task_that_does_not_hold_the_claim_leaves_it_waiting(claims: PendingChanges) -> None:
    claims.claim("a", detected_at=100.0, by="first")

    claims.started("a", "replayed")  # a message the claim is not about (an older version's, a duplicate)

    assert (claims.waiting("a"), claims.depth()) == (100.0, 1)
