"""A message lost between kombu taking it off the Redis queue and recording it as unacknowledged (a worker
killed in between) is sent again from its claim; a message still queued or held by a worker is not."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
import redis

from freshrag.coordination import open_coordination, resend_stranded_changes
from freshrag.documents import Change, Op, SourceKind
from freshrag.queue import INDEXING_QUEUE, ChangeQueue, queued_task_ids
from freshrag.settings import Settings, load_settings
from tests.redis_server import RedisServer


def change(name: str) -> Change:
    return Change(f"file:inbox/{name}", Op.UPSERT, SourceKind.FILE, f"/inbox/{name}", root="/inbox")


@dataclass(frozen=True)
class Broker:
    settings: Settings
    queue: ChangeQueue
    client: redis.Redis


@pytest.fixture
def broker(tmp_path: Path, redis_server: RedisServer) -> Broker:
    """A distributed deployment's queue on a real redis-server, with no worker taking its messages."""
    settings = load_settings(data_dir=tmp_path / "data", broker_url=redis_server.url)
    return Broker(settings, open_coordination(settings).queue, redis_server.client())


def queued(client: redis.Redis) -> list[dict[str, object]]:
    return [json.loads(raw) for raw in client.lrange(INDEXING_QUEUE, 0, -1)]


def test_a_message_the_broker_lost_is_sent_again_under_its_claim(broker: Broker) -> None:
    settings, queue, client = broker.settings, broker.queue, broker.client
    for name in ("lost.md", "queued.md", "taken.md"):
        assert queue.submit(change(name))
    raw = {json.loads(item)["headers"]["kwargsrepr"]: item for item in client.lrange(INDEXING_QUEUE, 0, -1)}
    lost, taken = (json.loads(raw[f"file:inbox/{name}"]) for name in ("lost.md", "taken.md"))
    # A worker took two messages off the queue (BRPOP); it recorded one as unacknowledged and died before
    # recording the other.
    client.lrem(INDEXING_QUEUE, 1, raw["file:inbox/lost.md"])
    client.lrem(INDEXING_QUEUE, 1, raw["file:inbox/taken.md"])
    client.hset("unacked", "tag-1", json.dumps([taken, "", INDEXING_QUEUE]))
    assert len(client.lrange(INDEXING_QUEUE, 0, -1)) == 1

    assert resend_stranded_changes(settings, queue, older_than=0) == 1

    again = {message["headers"]["kwargsrepr"]: message for message in queued(client)}
    assert set(again) == {"file:inbox/lost.md", "file:inbox/queued.md"}
    assert again["file:inbox/lost.md"]["headers"]["id"] == lost["headers"]["id"]  # its claim's token
    assert queue.pending.waiting("file:inbox/lost.md") is not None
    assert resend_stranded_changes(settings, queue, older_than=0) == 0  # found in the queue now
    assert queued_task_ids(client) >= {lost["headers"]["id"], taken["headers"]["id"]}


def test_a_claim_younger_than_the_bound_may_be_on_its_way_and_is_left_alone(broker: Broker) -> None:
    settings, queue, client = broker.settings, broker.queue, broker.client
    assert queue.submit(change("new.md"))
    client.delete(INDEXING_QUEUE)

    assert resend_stranded_changes(settings, queue) == 0
    assert resend_stranded_changes(settings, queue, older_than=0) == 1


def test_a_finished_change_leaves_nothing_to_send_again(broker: Broker) -> None:
    settings, queue, client = broker.settings, broker.queue, broker.client
    assert queue.submit(change("done.md"))
    (message,) = queued(client)
    client.delete(INDEXING_QUEUE)
    claim = message["headers"]["id"]
    queue.pending.started("file:inbox/done.md", claim)
    queue.pending.finished("file:inbox/done.md", claim)

    assert resend_stranded_changes(settings, queue, older_than=0) == 0
    assert client.keys("freshrag:pending-message:*") == []


def test_a_change_waiting_for_its_retry_is_not_sent_again(broker: Broker) -> None:
    settings, queue, client = broker.settings, broker.queue, broker.client
    assert queue.submit(change("flaky.md"))
    (message,) = queued(client)
    client.delete(INDEXING_QUEUE)  # a worker took it and ran it; the run failed
    claim = message["headers"]["id"]
    queue.pending.started("file:inbox/flaky.md", claim)
    assert queue.retry(replace(change("flaky.md"), claim=claim), attempt=2, countdown=60)

    assert resend_stranded_changes(settings, queue, older_than=0) == 0
    assert [m["headers"]["id"] for m in queued(client)] == [claim]
