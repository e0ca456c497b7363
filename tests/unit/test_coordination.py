"""Coordination picks every store's backend in one place, and a process talks to Redis through one client.
Nothing here connects: the clients connect on their first command."""

from __future__ import annotations

from pathlib import Path

from freshrag.coordination import open_coordination, redis_client
from freshrag.settings import load_settings
from freshrag.state.dead_letters import RedisDeadLetters
from freshrag.state.entries import RedisEntryJournal
from freshrag.state.feedback import RedisFeedbackLog
from freshrag.state.health import RedisHealthState
from freshrag.state.locks import RedisLocks, RedisRunLock
from freshrag.state.pending import RedisPending

BROKER = "redis://127.0.0.1:1/0"  # never reached


def test_a_process_has_one_client_per_redis() -> None:
    assert redis_client(BROKER) is redis_client(BROKER)
    assert redis_client(BROKER) is not redis_client("redis://127.0.0.1:1/1")


def test_distributed_stores_and_locks_share_the_process_client(tmp_path: Path) -> None:
    settings = load_settings(broker_url=BROKER, data_dir=tmp_path)
    first, second = open_coordination(settings), open_coordination(settings)
    for shared in (first, second):
        assert isinstance(shared.pending, RedisPending)
        assert isinstance(shared.locks, RedisLocks)
        assert isinstance(shared.run_lock, RedisRunLock)
        assert isinstance(shared.dead_letters, RedisDeadLetters)
        assert isinstance(shared.journal, RedisEntryJournal)
        assert isinstance(shared.health, RedisHealthState)
        assert isinstance(shared.feedback, RedisFeedbackLog)
        clients = {
            id(store._client)  # what is tested is which client each was given
            for store in (shared.pending, shared.locks, shared.dead_letters, shared.journal, shared.health)
        }
        assert clients == {id(redis_client(BROKER))}
    assert list(tmp_path.iterdir()) == []  # nothing of the embedded mode's files
