"""`freshrag finetune` and `freshrag models promote|rollback` follow a run until its record is final, and
stop following a run whose worker left it behind."""

from __future__ import annotations

from typing import Any

import pytest

from freshrag_cli import models


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class Registry:
    """What `GET /models/{version}` answers, poll after poll (the last one for good)."""

    def __init__(self, *answers: dict[str, Any]) -> None:
        self.answers = list(answers)
        self.polls = 0

    def get(self, path: str) -> dict[str, Any]:
        self.polls += 1
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(models.time, "monotonic", fake.monotonic)
    monkeypatch.setattr(models.time, "sleep", fake.sleep)
    return fake


def run(status: str, stage: str, done: int = 0) -> dict[str, Any]:
    return {"status": status, "stage": stage, "progress": {"stage": stage, "done": done, "total": 10}}


def finished(answer: dict[str, Any]) -> bool:
    return answer["status"] != "candidate" and not answer["stage"]


def test_a_run_is_followed_past_its_promotion_until_its_record_is_final(clock: Clock) -> None:
    registry = Registry(run("candidate", "training"), run("live", "promoting"), run("live", "promoting"),
                        run("live", ""))  # fmt: skip
    answer = models._follow(registry, "v1", finished)  # type: ignore[arg-type]
    assert answer["stage"] == ""
    assert registry.polls == 4


def test_a_long_run_that_keeps_changing_is_followed_to_its_end(clock: Clock) -> None:
    progress = [run("candidate", "training", done) for done in range(2000)]  # over 30 minutes of polls
    registry = Registry(*progress, run("rejected", ""))
    assert models._follow(registry, "v1", finished)["status"] == "rejected"  # type: ignore[arg-type]


def test_a_run_left_behind_by_its_worker_is_no_longer_followed(clock: Clock) -> None:
    stuck = Registry(run("candidate", "training", 3))
    assert models._follow(stuck, "v1", finished)["stage"] == "training"  # type: ignore[arg-type]
    assert models._STALLED_SECONDS <= clock.now < models._STALLED_SECONDS + 5

    clock.now = 0.0
    decided = Registry(run("candidate", "evaluating"), run("live", "promoting"))
    assert models._follow(decided, "v1", finished)["status"] == "live"  # type: ignore[arg-type]
    assert models._SETTLING_SECONDS <= clock.now < models._SETTLING_SECONDS + 5


def test_a_queued_switch_waits_for_a_busy_worker_longer_than_a_decided_run_settles(clock: Clock) -> None:
    queued = [run("retired", "switch queued")] * 300 + [run("retired", "switching"), run("live", "")]
    answer = models._follow(Registry(*queued), "v0", lambda r: not r["stage"])  # type: ignore[arg-type]
    assert answer["status"] == "live"
