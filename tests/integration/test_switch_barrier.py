"""The barrier a model switch waits on before copying: every change that began before the switch asked for
dual writes has finished, in one process (threads) and across processes (Redis locks)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from freshrag.state.locks import DocumentLocks, InProcessLocks, RedisLocks, barrier
from tests.redis_server import RedisServer


@pytest.fixture(params=["in-process", "redis"])
def locks(request: pytest.FixtureRequest) -> Iterator[DocumentLocks]:
    if request.param == "in-process":
        yield InProcessLocks()
        return
    server: RedisServer = request.getfixturevalue("redis_server")
    yield RedisLocks(server.client())


def test_the_barrier_waits_for_changes_in_flight_and_not_for_later_ones(locks: DocumentLocks) -> None:
    holding = threading.Event()
    finished: list[str] = []

    def change_in_flight() -> None:
        with locks.hold("doc-a"):
            holding.set()
            time.sleep(0.5)
            finished.append("doc-a")

    writer = threading.Thread(target=change_in_flight)
    writer.start()
    holding.wait(5)
    assert locks.held() == ["doc-a"]

    waited = barrier(locks)

    assert waited == 1
    assert finished == ["doc-a"]  # the change in flight finished before the barrier returned
    writer.join()
    assert locks.held() == []
    assert barrier(locks) == 0  # nothing in flight: no wait
