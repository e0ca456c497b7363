"""A model run's lifecycle: the stages a fine-tune run, an OpenAI job and a model switch go through, and the
one place where a run's `status` and `stage` change.

A run is *settled* when its status is final for now (live, rejected, retired or failed: not a candidate) and
no stage is under way (`Stage.NONE`). Until then something is working on it: the command line follows a run
until it is settled, and the API refuses to start another. `Stage.NONE` is "" on the wire, as before; what
decides "done" is `settled`, never an empty stage alone (a candidate with no stage yet is not done).

    local run:   QUEUED -> COLLECTING_PAIRS -> TRAINING -> EXPORTING -> RE_EMBEDDING -> EVALUATING
                 [-> PROMOTING] -> NONE, with status candidate -> live | rejected | failed
    OpenAI job:  the job's own status (validating_files, queued, running) -> NONE once it is final
                 (succeeded: live, cancelled: rejected, failed: failed)
    switch:      SWITCH_QUEUED -> SWITCHING -> NONE (the target live, or its status kept and a reason)
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from freshrag.state.registry import ModelRun, RunStatus


class Stage(StrEnum):
    """What is being done to a run now."""

    NONE = ""  # nothing: the run is settled unless it is still a candidate
    QUEUED = "queued"
    COLLECTING_PAIRS = "collecting pairs"
    TRAINING = "training"
    EXPORTING = "exporting"
    RE_EMBEDDING = "re-embedding"
    EVALUATING = "evaluating"
    PROMOTING = "promoting"
    SWITCH_QUEUED = "switch queued"
    SWITCHING = "switching"


class JobStatus(StrEnum):
    """An OpenAI fine-tuning job's status, as OpenAI names it; the last three are final."""

    VALIDATING_FILES = "validating_files"
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def final(self) -> bool:
        return self in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)


FINAL_STATUSES = frozenset({RunStatus.LIVE, RunStatus.REJECTED, RunStatus.RETIRED, RunStatus.FAILED})
TRAINING_STAGES = (
    Stage.QUEUED,
    Stage.COLLECTING_PAIRS,
    Stage.TRAINING,
    Stage.EXPORTING,
    Stage.RE_EMBEDDING,
    Stage.EVALUATING,
    Stage.PROMOTING,
)


class TransitionError(RuntimeError):
    """A change of state the lifecycle does not allow (a bug, not a user's error)."""


def settled(status: str, stage: str) -> bool:
    """Whether nothing is working on a run: its status is final and no stage is under way."""
    return RunStatus(status) in FINAL_STATUSES and stage == Stage.NONE


def settled_answer(run: dict[str, Any]) -> bool:
    """`settled` for a run as the API answers it (`GET /models/{version}`)."""
    return settled(str(run["status"]), str(run.get("stage") or ""))


def under_way(run: ModelRun) -> bool:
    return not settled(run.status, run.stage)


def enter(run: ModelRun, stage: Stage) -> None:
    """A local candidate moves on to `stage` of its training."""
    if run.status is not RunStatus.CANDIDATE or stage not in TRAINING_STAGES:
        raise TransitionError(f"{run.version} ({run.status}) cannot enter the training stage {stage!r}")
    run.stage = stage


def settle(run: ModelRun, status: RunStatus, reason: str | None = None) -> None:
    """The run's outcome: `status` is final, no stage is under way; `reason` (when given) says why."""
    if status not in FINAL_STATUSES:
        raise TransitionError(f"{status} is not a final status")
    run.status, run.stage = status, Stage.NONE
    if reason is not None:
        run.reason = reason


def decide(run: ModelRun, status: RunStatus) -> None:
    """The run's outcome is `status`; its stage stays until its follow-ups are done (then `finish`)."""
    if status not in FINAL_STATUSES:
        raise TransitionError(f"{status} is not a final status")
    run.status = status


def finish(run: ModelRun) -> None:
    """The run's status was decided (promoted, rejected or failed) and its follow-ups are done."""
    if run.status not in FINAL_STATUSES:
        raise TransitionError(f"{run.version} is still a {run.status}: it cannot finish")
    run.stage = Stage.NONE


def job_polled(run: ModelRun, status: str) -> JobStatus:
    """An OpenAI job's status as polled: its stage while it runs (an unknown one, as OpenAI may add, is
    shown as it comes); once final, the run is settled by the caller through `settle`."""
    job = JobStatus(status) if status in {known.value for known in JobStatus} else None
    run.stage = Stage.NONE if job is not None and job.final else status
    return job or JobStatus.RUNNING


def queue_switch(run: ModelRun) -> None:
    """An operator asked to switch to `run`: a worker will take it."""
    run.stage = Stage.SWITCH_QUEUED


def begin_switch(run: ModelRun) -> None:
    run.stage = Stage.SWITCHING


def end_switch(run: ModelRun, reason: str | None = None) -> None:
    """The switch is over: the run went live (no reason), or it failed or was never run (`reason`)."""
    run.stage = Stage.NONE
    if reason is not None:
        run.reason = reason
