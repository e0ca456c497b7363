"""The claim scenarios of tests/unit/test_pending_claims.py on `RedisPending`, whose steps are Lua scripts
on a real redis-server."""

from __future__ import annotations

import pytest

from freshrag.state.pending import PendingChanges, RedisPending
from tests.redis_server import RedisServer
from tests.unit.test_pending_claims import (  # noqa: F401 (collected here, run on Redis)
    TTL,
    test_a_change_made_during_a_failed_run_covers_its_retry,
    test_a_failed_run_goes_back_to_waiting_under_its_own_claim,
    test_a_failed_run_is_retried_when_the_later_changes_run_is_under_way,
    test_a_run_that_ends_leaves_the_claim_of_a_change_made_meanwhile,
    test_a_task_that_does_not_hold_the_claim_leaves_it_waiting,
)


@pytest.fixture
def claims(redis_server: RedisServer) -> PendingChanges:
    return RedisPending(redis_server.client(), TTL, interval_seconds=0)


def test_a_claim_of_an_older_version_reads_as_waiting(redis_server: RedisServer) -> None:
    client = redis_server.client()
    client.set(RedisPending.PREFIX + "a", repr(100.0))  # the detection time alone: an older version's claim
    client.zadd(RedisPending.INDEX, {"a": 100.0})
    claims = RedisPending(client, TTL, interval_seconds=0)

    assert claims.waiting("a") == 100.0
    assert claims.claim("a", detected_at=105.0, by="new") is None
    claims.started("a")  # a message of the older version, without a claim
    claims.finished("a")
    assert (claims.waiting("a"), claims.depth()) == (None, 0)
