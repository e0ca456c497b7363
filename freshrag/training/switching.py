"""An operator's switches between embedding models: `freshrag models promote VERSION` and `rollback`.

Both are the blue/green switch of `freshrag.bluegreen`: the target's collection is brought up to date (only
what changed since it last served is embedded again, or everything when its collection was dropped) while
changes reach both, then the alias swaps. The gate is not asked: the operator is.
"""

from __future__ import annotations

import logging
from typing import Protocol

from freshrag import lifecycle
from freshrag.bluegreen import Progress, Switch
from freshrag.catalog import ModelCatalog
from freshrag.chunking import Chunker
from freshrag.state.locks import DocumentLocks
from freshrag.state.registry import Backend, ModelRun, Registry, RunStatus
from freshrag.training.run import PromotionServices, promote

log = logging.getLogger(__name__)


class SwitchChoice(Protocol):
    """What choosing a model to switch to reads."""

    @property
    def registry(self) -> Registry: ...

    @property
    def models(self) -> ModelCatalog: ...


class SwitchServices(PromotionServices, Protocol):
    """What a switch uses: the blue/green switch's store, models, locks and chunker, the registry, and
    the follow-ups of a promotion."""

    @property
    def registry(self) -> Registry: ...

    @property
    def models(self) -> ModelCatalog: ...

    @property
    def locks(self) -> DocumentLocks: ...

    @property
    def chunker(self) -> Chunker: ...


class ModelChoiceError(ValueError):
    """The version asked for cannot serve (unknown, not an embedding model, no model folder, or live)."""


def switch_target(services: SwitchChoice, version: str | None) -> ModelRun:
    """The run `version` names, or with None the one a rollback returns to: the last one retired."""
    registry = services.registry
    live = registry.by_collection(services.models.live_collection(fresh=True))
    if version is None:
        retired = [
            run
            for run in registry.runs()
            if run.status is RunStatus.RETIRED and run.path and run.backend is not Backend.OPENAI
        ]
        if not retired:
            raise ModelChoiceError("nothing to roll back to: no model has been retired yet")
        return max(retired, key=lambda run: run.retired_at or 0.0)
    run = registry.get(version)
    if run is None:
        known = ", ".join(r.version for r in registry.runs()) or "none"
        raise ModelChoiceError(f"no model {version!r} (known: {known})")
    if run.backend is Backend.OPENAI:
        raise ModelChoiceError(f"{version} is an OpenAI answer model; only embedding models serve searches")
    if live is not None and live.version == run.version:
        raise ModelChoiceError(f"{version} is already live")
    if run.status is RunStatus.CANDIDATE:
        raise ModelChoiceError(f"{version} is a candidate still being trained or evaluated")
    if not run.path:
        raise ModelChoiceError(f"{version} has no model folder to serve from")
    return run


def switch_to(services: SwitchServices, run: ModelRun, progress: Progress) -> ModelRun:
    """Make `run` live (the caller holds `freshrag.training.run.exclusive`)."""
    switch = Switch(services.store, services.models, services.locks, services.chunker, progress)
    lifecycle.begin_switch(run)
    services.registry.put(run)
    try:
        switch.prepare(run)
        promote(services, run, switch)
    except Exception as exc:
        log.exception("switching to %s failed", run.version)
        lifecycle.end_switch(run, f"switch failed: {type(exc).__name__}: {exc}")
        services.registry.put(run)
        raise
    lifecycle.end_switch(run)
    services.registry.put(run)
    log.info("%s is live again", run.version)
    return run
