"""The push journal on both of its storages: SQLite (embedded) and a real redis-server (distributed)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from freshrag.state.entries import RedisEntryJournal, SqliteEntryJournal
from freshrag.state.pushes import PushJournal, RepositoryPushRecord
from tests.redis_server import RedisServer

URL = "https://github.com/acme/handbook.git"


@pytest.fixture(params=["sqlite", "redis"])
def pushes(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[PushJournal]:
    if request.param == "sqlite":
        yield SqliteEntryJournal(tmp_path / "webhooks.sqlite3").pushes
        return
    server = RedisServer(tmp_path / "redis")
    server.start()
    try:
        yield RedisEntryJournal(server.client()).pushes
    finally:
        server.stop()


def push(
    received_at: float, ref: str = "refs/heads/main", repository: str = "acme/handbook"
) -> RepositoryPushRecord:
    return RepositoryPushRecord(repository, URL, ref, received_at)


def test_a_push_waits_to_be_pulled_and_a_later_one_replaces_it(pushes: PushJournal) -> None:
    assert pushes.put(push(10.0))
    assert pushes.put(push(20.0, ref="refs/heads/main2"))

    assert pushes.unpulled(received_before=30.0) == [push(20.0, ref="refs/heads/main2")]
    assert pushes.unpulled(received_before=15.0) == []  # the sweep leaves what may still be on its way


def test_an_older_push_arriving_late_changes_nothing(pushes: PushJournal) -> None:
    pushes.put(push(20.0))

    assert not pushes.put(push(10.0, ref="refs/heads/old"))

    assert pushes.get("acme/handbook") == push(20.0)


def test_pulling_marks_only_the_push_it_pulled(pushes: PushJournal) -> None:
    pushes.put(push(10.0))
    pushes.put(push(20.0))  # received while the first was being pulled

    pushes.mark_pulled("acme/handbook", 10.0)
    assert [p.received_at for p in pushes.unpulled(30.0)] == [20.0]

    pushes.mark_pulled("acme/handbook", 20.0)
    assert pushes.unpulled(30.0) == []
    stored = pushes.get("acme/handbook")
    assert stored is not None
    assert stored.pulled


def test_repositories_are_kept_apart_oldest_first(pushes: PushJournal) -> None:
    pushes.put(push(20.0, repository="acme/b"))
    pushes.put(push(10.0, repository="acme/a"))

    assert [p.repository for p in pushes.unpulled(30.0)] == ["acme/a", "acme/b"]
    assert pushes.get("acme/c") is None
