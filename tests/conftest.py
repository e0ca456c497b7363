"""Shared test helpers: where the shared data lives, the model cache, and waiting for an eventually-true
condition."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from tests.redis_server import RedisServer

PROJECT = Path(__file__).resolve().parent.parent
SHARED_DATA = PROJECT.parent / "shared" / "data"

T = TypeVar("T")


def eventually(probe: Callable[[], T], timeout: float = 20.0, interval: float = 0.05) -> T:
    """Call `probe` until it returns something truthy; fail with the last value after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    value = probe()
    while not value:
        if time.monotonic() > deadline:
            pytest.fail(f"condition still false after {timeout} s (last value: {value!r})")
        time.sleep(interval)
        value = probe()
    return value


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """One model cache for the whole run, shared by every xdist worker and by the processes the tests start:
    the model is exported and checked once, under the cache's own file lock, as `freshrag` does for
    processes sharing a data directory."""
    base = tmp_path_factory.getbasetemp()
    return (base if worker_id == "master" else base.parent) / "models"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.fail(f"{SHARED_DATA} is missing: tests read the shared data set from ../shared/data")
    return SHARED_DATA


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis")
    server.start()
    yield server
    server.stop()
