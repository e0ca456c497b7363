"""The canary gives up at once when its worker stops: what it waits for no longer runs, and a shutdown
must not wait out the canary's timeout (`freshrag up` was killed after 30 s of SIGTERM for it)."""

from __future__ import annotations

import threading
from types import SimpleNamespace
from typing import Any

from freshrag.documents import Change, Op
from freshrag.health.canary import CANARY_RESULT, Canary


class Memory:
    def __init__(self) -> None:
        self.values: dict[str, dict[str, Any]] = {}

    def put(self, key: str, value: dict[str, Any]) -> None:
        self.values[key] = value

    def get(self, key: str) -> dict[str, Any] | None:
        return self.values.get(key)


class StoppedWorkerQueue:
    """Takes changes; nothing runs them, as in a worker that is stopping."""

    def __init__(self) -> None:
        self.submitted: list[Change] = []

    def submit(self, change: Change) -> bool:
        self.submitted.append(change)
        return True


class NothingFound:
    def search(self, *_: Any) -> Any:
        return SimpleNamespace(results=[])


def test_a_stopping_worker_abandons_the_canary_without_recording_a_failure() -> None:
    state, queue, stopping = Memory(), StoppedWorkerQueue(), threading.Event()
    canary = Canary(state, queue, NothingFound(), stopping=stopping)  # type: ignore[arg-type]
    results: list[Any] = []
    waiting = threading.Thread(target=lambda: results.append(canary.run(timeout=3600)))
    waiting.start()
    stopping.set()
    waiting.join(timeout=30)
    assert not waiting.is_alive(), "the canary kept waiting after its worker began stopping"
    assert results == [None]
    assert CANARY_RESULT not in state.values, "an abandoned canary was recorded as a result"
    assert [change.op for change in queue.submitted] == [Op.UPSERT, Op.DELETE]  # the probe is withdrawn
    stopping.clear()  # a worker started again: its canary runs, not taking the abandoned one as in flight
    again = canary.run(timeout=0)
    assert again is not None
    assert again.outcome == "timeout"
