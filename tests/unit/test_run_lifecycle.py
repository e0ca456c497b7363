"""The run lifecycle: which changes of status and stage are allowed, and when a run is settled."""

from __future__ import annotations

import json

import pytest

from freshrag import lifecycle
from freshrag.lifecycle import JobStatus, Stage, TransitionError, settled, settled_answer
from freshrag.state.registry import Backend, ModelRun, RunStatus


def run(status: RunStatus = RunStatus.CANDIDATE, stage: str = "") -> ModelRun:
    return ModelRun("v1", Backend.LOCAL, status, 0.0, "base", stage=stage)


def test_a_candidate_is_never_settled_even_without_a_stage() -> None:
    """The bug two fixes were about: an empty stage read as "done" while the run had not even started."""
    assert not settled("candidate", "")
    assert not settled_answer({"status": "candidate", "stage": ""})
    assert not settled_answer({"status": "candidate"})


@pytest.mark.parametrize("status", ["live", "rejected", "retired", "failed"])
def test_a_final_status_is_settled_once_no_stage_is_under_way(status: str) -> None:
    assert settled(status, "")
    assert not settled(status, "switching")
    assert not settled_answer({"status": status, "stage": "switch queued"})


def test_a_local_run_goes_through_its_stages_then_settles() -> None:
    candidate = run(stage=Stage.QUEUED)
    for stage in lifecycle.TRAINING_STAGES[1:]:
        lifecycle.enter(candidate, stage)
        assert candidate.stage == stage.value
        assert lifecycle.under_way(candidate)
    lifecycle.decide(candidate, RunStatus.LIVE)
    assert lifecycle.under_way(candidate)  # live, its follow-ups still running
    lifecycle.finish(candidate)
    assert not lifecycle.under_way(candidate)
    assert json.loads(json.dumps(candidate.to_json()))["stage"] == ""  # "" on the wire, as before


def test_a_run_that_is_not_a_candidate_cannot_train_or_finish_undecided() -> None:
    with pytest.raises(TransitionError, match="cannot enter the training stage"):
        lifecycle.enter(run(RunStatus.LIVE), Stage.TRAINING)
    with pytest.raises(TransitionError, match="cannot enter the training stage"):
        lifecycle.enter(run(), Stage.SWITCHING)
    with pytest.raises(TransitionError, match="cannot finish"):
        lifecycle.finish(run())
    with pytest.raises(TransitionError, match="not a final status"):
        lifecycle.settle(run(), RunStatus.CANDIDATE)


def test_settling_records_the_reason_and_clears_the_stage() -> None:
    failed = run(stage=Stage.TRAINING)
    lifecycle.settle(failed, RunStatus.FAILED, "interrupted")
    assert (failed.status, failed.stage, failed.reason) == (RunStatus.FAILED, "", "interrupted")


def test_a_switch_is_queued_runs_and_ends_with_or_without_a_reason() -> None:
    target = run(RunStatus.RETIRED)
    lifecycle.queue_switch(target)
    assert not settled(target.status, target.stage)
    lifecycle.begin_switch(target)
    assert target.stage == "switching"
    lifecycle.end_switch(target, "switch failed: boom")
    assert settled(target.status, target.stage)
    assert target.reason == "switch failed: boom"


@pytest.mark.parametrize(
    ("status", "stage", "final"),
    [
        ("validating_files", "validating_files", False),
        ("queued", "queued", False),
        ("running", "running", False),
        ("succeeded", "", True),
        ("failed", "", True),
        ("cancelled", "", True),
        ("paused_by_openai", "paused_by_openai", False),  # a status OpenAI may add is shown as it comes
    ],
)
def test_an_openai_job_shows_its_status_until_it_is_final(status: str, stage: str, final: bool) -> None:
    job = run()
    assert lifecycle.job_polled(job, status).final is final
    assert job.stage == stage
    assert JobStatus.SUCCEEDED.final
