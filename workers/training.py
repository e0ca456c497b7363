"""Fine-tuning tasks, on the training queue: the scheduled check, a forced run, a model switch, and the
polling of OpenAI jobs. Thin: the logic is in freshrag.training. Acknowledged on receipt: a run takes longer
than the broker's visibility timeout, and one killed midway is recorded as failed by the next run, never
delivered again to start over behind the operator's back."""

from __future__ import annotations

import logging
from typing import Any

from freshrag import lifecycle
from freshrag.queue import FINETUNE, FINETUNE_CHECK, POLL_OPENAI_JOBS, SWITCH_MODEL
from freshrag.state.registry import RunStatus
from freshrag.training import openai_runs
from freshrag.training.run import RunInProgressError, exclusive, fine_tune, should_train
from freshrag.training.switching import switch_target, switch_to
from workers.app import app, current_runtime

log = logging.getLogger(__name__)


def _log_progress(stage: str, done: int, total: int) -> None:
    """Progress of a run in a worker goes to the registry (see `_Reporter`), not to a terminal."""


@app.task(name=FINETUNE_CHECK, acks_late=False)
def finetune_check() -> dict[str, Any] | None:
    """The scheduled check: train only when there is a reason to."""
    runtime = current_runtime()
    reason = should_train(runtime)
    if reason is None:
        log.info("fine-tune check: nothing calls for a run")
        return None
    try:
        with exclusive(runtime):
            return fine_tune(runtime, f"schedule: {reason}", _log_progress).to_json()
    except RunInProgressError:
        log.info("fine-tune check: a run is already under way")
        return None


@app.task(name=FINETUNE, acks_late=False)
def finetune(version: str, trigger: str = "requested") -> dict[str, Any] | None:
    """A forced run of the local backend, recorded beforehand as `version` (so the caller can follow it)."""
    runtime = current_runtime()
    try:
        with exclusive(runtime):
            return fine_tune(runtime, trigger, _log_progress, version).to_json()
    except RunInProgressError as exc:
        run = runtime.registry.get(version)
        if run is not None:
            lifecycle.settle(run, RunStatus.FAILED, str(exc))
            runtime.registry.put(run)
        runtime.metrics.finetune_runs.labels("local", "failed").inc()
        return None


@app.task(name=SWITCH_MODEL, acks_late=False)
def switch_model(version: str | None = None) -> dict[str, Any] | None:
    """Make `version` live (a rollback when None)."""
    runtime = current_runtime()
    try:
        with exclusive(runtime):
            return switch_to(runtime, switch_target(runtime, version), _log_progress).to_json()
    except Exception as exc:  # recorded on the target, where `freshrag models promote` waits for it
        run = runtime.registry.get(version) if version else None
        if run is not None and run.stage:
            lifecycle.end_switch(run, f"switch failed: {exc}")
            runtime.registry.put(run)
        log.error("switching to %s failed: %s", version or "the previous model", exc)
        return None


@app.task(name=POLL_OPENAI_JOBS, acks_late=False)
def poll_openai_jobs() -> list[str]:
    return [run.version for run in openai_runs.poll_jobs(current_runtime())]
