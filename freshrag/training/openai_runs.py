"""OpenAI fine-tuning jobs as model runs: started on request, polled from beat, cancelled on request.

Each job is a run of backend `openai` in the model registry, its version the job id. While the job runs it is
a `candidate`; when it succeeds it becomes `live` (its `fine_tuned_model` is the model id to answer with) and
the previous live answer model is `retired`; a failed job is `failed`, a cancelled one `rejected`.
"""

from __future__ import annotations

import logging
import time
from typing import Protocol

from freshrag import lifecycle
from freshrag.search import SearchService
from freshrag.settings import Settings
from freshrag.state.registry import Backend, ModelRun, Registry, RunStatus
from freshrag.telemetry import Metrics
from freshrag.training.openai_tuning import (
    JobState,
    OpenAIFineTuner,
    build_chat_examples,
    openai_client,
    read_curated,
)

log = logging.getLogger(__name__)

OPENAI = Backend.OPENAI.value
_CONTEXT_CHUNKS = 3


class JobServices(Protocol):
    """What OpenAI fine-tuning jobs use: the settings, the registry that records them, search for the
    examples' context, and the run counter."""

    @property
    def settings(self) -> Settings: ...

    @property
    def registry(self) -> Registry: ...

    @property
    def search(self) -> SearchService: ...

    @property
    def metrics(self) -> Metrics: ...


def _tuner(services: JobServices) -> OpenAIFineTuner:
    settings = services.settings
    return OpenAIFineTuner(
        openai_client(settings), settings.openai_model, max_example_tokens=settings.openai_max_example_tokens
    )


def start_job(services: JobServices, trigger: str) -> ModelRun:
    """Build the chat examples from the curated file, check them, upload them and create the job."""
    settings = services.settings
    if settings.openai_examples is None:
        raise ValueError("the OpenAI backend needs curated examples: set FRESHRAG_OPENAI_EXAMPLES")
    started = time.time()
    curated = read_curated(settings.openai_examples)
    examples = build_chat_examples(curated, settings.openai_system_prompt, lambda q: _context(services, q))
    state = _tuner(services).start(examples)
    run = ModelRun(
        version=state.job_id,
        backend=Backend.OPENAI,
        status=RunStatus.CANDIDATE,
        created_at=started,
        base_model=settings.openai_model,
        pairs=len(examples),
        pair_sources={"curated": len(examples)},
        trigger=trigger,
        job=state.to_json(),
    )
    lifecycle.job_polled(run, state.status)
    services.registry.put(run)
    log.info("OpenAI fine-tuning job %s started with %d examples", state.job_id, len(examples))
    return run


def _context(services: JobServices, question: str) -> str:
    answer = services.search.search(question, _CONTEXT_CHUNKS)
    return "\n\n".join(f"[{hit.title or hit.uri}]\n{hit.text}" for hit in answer.results)


def poll_jobs(services: JobServices) -> list[ModelRun]:
    """Poll every running job once and record what changed; returns the runs polled."""
    running = [
        run
        for run in services.registry.runs()
        if run.backend is Backend.OPENAI and run.status is RunStatus.CANDIDATE
    ]
    if not running or services.settings.openai_api_key is None:
        return []
    tuner = _tuner(services)
    for run in running:
        _record(services, run, tuner.poll(run.version))
    return running


def cancel_job(services: JobServices, version: str) -> ModelRun:
    run = services.registry.get(version)
    if run is None or run.backend is not Backend.OPENAI:
        raise ValueError(f"no OpenAI fine-tuning job {version!r}")
    _record(services, run, _tuner(services).cancel(version))
    return run


def _record(services: JobServices, run: ModelRun, state: JobState) -> None:
    run.job = state.to_json()
    lifecycle.job_polled(run, state.status)
    run.duration_s = round(time.time() - run.created_at, 3)
    if state.finished:
        if state.status == "succeeded":
            previous = services.registry.live(Backend.OPENAI)
            if previous is not None and previous.version != run.version:
                lifecycle.settle(previous, RunStatus.RETIRED)
                previous.retired_at = time.time()
                services.registry.put(previous)
            lifecycle.settle(run, RunStatus.LIVE)
            run.promoted_at = time.time()
            run.fine_tuned_model = state.fine_tuned_model
            services.metrics.finetune_runs.labels(OPENAI, "promoted").inc()
        elif state.status == "cancelled":
            lifecycle.settle(run, RunStatus.REJECTED, "cancelled")
            services.metrics.finetune_runs.labels(OPENAI, "rejected").inc()
        else:
            lifecycle.settle(run, RunStatus.FAILED, state.error or "the job failed")
            services.metrics.finetune_runs.labels(OPENAI, "failed").inc()
        outcome = state.fine_tuned_model or state.error or ""
        log.info("OpenAI job %s %s %s", run.version, state.status, outcome)
    services.registry.put(run)
