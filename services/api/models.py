"""The model registry over HTTP: `GET /models` for everyone; fine-tune now, promote, rollback and cancel for
admins. Runs and switches take minutes, so they are handed to a worker (the training queue) and answered
202 with the version to follow on `GET /models/{version}`; an OpenAI job is created here (one upload and one
request) and then polled from beat."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from fastapi import APIRouter, Depends, HTTPException

from freshrag import lifecycle
from freshrag.queue import FINETUNE, SWITCH_MODEL, ChangeQueue
from freshrag.settings import SettingsError
from freshrag.state.registry import ModelRun
from freshrag.training.openai_runs import JobServices, cancel_job, start_job
from freshrag.training.openai_tuning import ExamplesError, OpenAIBackendError
from freshrag.training.run import (
    RunQueueing,
    TrainingCheck,
    queued_run,
    run_in_progress,
    should_train,
    why_not,
)
from freshrag.training.switching import ModelChoiceError, switch_target
from services.api.schemas import FinetuneRequest, ModelOut, ModelsOut


class ModelServices(TrainingCheck, RunQueueing, JobServices, Protocol):
    """What the model routes use: the registry and the catalog, the queue that runs fine-tunes and
    switches, and what starting either checks."""

    @property
    def queue(self) -> ChangeQueue: ...


def models_router(services: ModelServices, require_admin: Callable[..., None]) -> APIRouter:
    router = APIRouter(tags=["models"])
    admin = [Depends(require_admin)]

    def out(run: ModelRun) -> ModelOut:
        return ModelOut(**run.to_json())

    @router.get("/models", response_model=ModelsOut)
    def list_models() -> ModelsOut:
        """Every model version, oldest first: the base model, each fine-tune run, each OpenAI job."""
        runs = services.registry.runs()
        return ModelsOut(models=[out(run) for run in runs], live=services.models.live_version())

    @router.get("/models/{version}", response_model=ModelOut)
    def get_model(version: str) -> ModelOut:
        run = services.registry.get(version)
        if run is None:
            raise HTTPException(404, f"no model {version!r}")
        return out(run)

    @router.post("/admin/finetune", status_code=202, dependencies=admin)
    def finetune(body: FinetuneRequest) -> dict[str, Any]:
        """Start a run now (`force`, the default), or only if the scheduled check would (`force: false`)."""
        if body.backend == "openai":
            return _start_openai(services)
        busy = run_in_progress(services)
        if busy is not None:
            raise HTTPException(409, f"run {busy.version} is under way ({busy.stage or 'starting'})")
        reason = "requested" if body.force else should_train(services)
        if reason is None:
            return {"started": False, "reason": why_not(services)}
        run = queued_run(services, reason)
        services.queue.request(FINETUNE, version=run.version, trigger=reason)
        return {"started": True, "version": run.version, "reason": reason}

    @router.post("/admin/models/rollback", status_code=202, dependencies=admin)
    def rollback() -> dict[str, str]:
        """Back to the model that was live before this one (only what changed since is re-embedded)."""
        return _switch(services, None)

    @router.post("/admin/models/{version}/promote", status_code=202, dependencies=admin)
    def promote(version: str) -> dict[str, str]:
        """Make `version` live whatever the gate said (re-embedding as needed, then the alias swap)."""
        return _switch(services, version)

    @router.post("/admin/models/{version}/cancel", response_model=ModelOut, dependencies=admin)
    def cancel(version: str) -> ModelOut:
        """Cancel a running OpenAI fine-tuning job."""
        try:
            return out(cancel_job(services, version))
        except ValueError as exc:
            raise HTTPException(404, str(exc)) from None
        except OpenAIBackendError as exc:
            raise HTTPException(502, str(exc)) from None

    return router


def _switch(services: ModelServices, version: str | None) -> dict[str, str]:
    try:
        target = switch_target(services, version)
    except ModelChoiceError as exc:
        unknown = version is not None and services.registry.get(version) is None
        raise HTTPException(404 if unknown else 409, str(exc)) from None
    busy = run_in_progress(services)
    if busy is not None:
        raise HTTPException(409, f"run {busy.version} is under way ({busy.stage or 'starting'})")
    lifecycle.queue_switch(target)  # `freshrag models promote` follows the target until it is settled
    services.registry.put(target)
    try:
        services.queue.request(SWITCH_MODEL, version=target.version)
    except Exception:
        lifecycle.end_switch(target)  # nothing will run it: a stage left behind would be followed for good
        services.registry.put(target)
        raise
    return {"switching_to": target.version}


def _start_openai(services: ModelServices) -> dict[str, Any]:
    try:
        run = start_job(services, "requested")
    except (ExamplesError, SettingsError, ValueError) as exc:
        raise HTTPException(400, str(exc)) from None
    except OpenAIBackendError as exc:
        raise HTTPException(502, str(exc)) from None
    return {"started": True, "version": run.version, "reason": "requested"}
