"""One fine-tune run of the embedding model, from training pairs to a live (or rejected) model:

    pairs -> train (from the live model) -> export to the serving backend -> re-embed into the candidate's
    collection (live changes reach both) -> golden set, candidate beside live -> gate -> swap, or drop

Every step is recorded in the model registry as it happens (`stage`, `progress`), so `freshrag models list`
and `freshrag finetune --now` show where a run is. One run at a time, across every process (`exclusive`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from freshrag import lifecycle
from freshrag.bluegreen import Switch
from freshrag.catalog import ModelCatalog
from freshrag.chunking import Chunker
from freshrag.embedding import Embedder
from freshrag.evaluation import read_queries
from freshrag.health import checks
from freshrag.health.checks import CorpusServices
from freshrag.health.drift import KINDS
from freshrag.health.quality import QUALITY_RESULT, baseline_key, evaluate_golden_set, golden_set_name
from freshrag.lifecycle import Stage
from freshrag.search import SearchService
from freshrag.settings import Settings
from freshrag.sources import WatchedFolder
from freshrag.state.feedback import FeedbackLog
from freshrag.state.health import HealthState
from freshrag.state.locks import DocumentLocks, LockTimeoutError, RunLock
from freshrag.state.registry import METRIC_NAMES, Backend, ModelRun, Registry, RunStatus
from freshrag.telemetry import Metrics
from freshrag.training import pairs as training_pairs
from freshrag.training.gate import judge
from freshrag.training.local import TrainingOptions, train_local

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]
LOCAL = Backend.LOCAL.value
_QUEUED = 600.0  # a queued run no worker took within this long is not in progress


class RunInProgressError(RuntimeError):
    """Another fine-tune run (or model switch) holds the lock."""


class RunLockHolder(Protocol):
    """What taking the run lock needs."""

    @property
    def run_lock(self) -> RunLock: ...


class TrainingCheck(Protocol):
    """What deciding whether to train reads."""

    @property
    def settings(self) -> Settings: ...

    @property
    def registry(self) -> Registry: ...

    @property
    def feedback(self) -> FeedbackLog: ...

    @property
    def embedder(self) -> Embedder: ...

    @property
    def health(self) -> HealthState: ...


class RunQueueing(Protocol):
    """What recording and finding runs use."""

    @property
    def settings(self) -> Settings: ...

    @property
    def registry(self) -> Registry: ...

    @property
    def models(self) -> ModelCatalog: ...

    @property
    def embedder(self) -> Embedder: ...

    @property
    def run_lock(self) -> RunLock: ...


class PromotionServices(CorpusServices, Protocol):
    """What the follow-ups of a promotion use, besides the switch."""


class TrainingServices(TrainingCheck, RunQueueing, PromotionServices, Protocol):
    """What a fine-tune run uses: it trains from feedback and the corpus, re-embeds the corpus with the
    candidate beside live changes, evaluates both on the golden set and records every step."""

    @property
    def chunker(self) -> Chunker: ...

    @property
    def locks(self) -> DocumentLocks: ...

    @property
    def metrics(self) -> Metrics: ...

    @property
    def folders(self) -> list[WatchedFolder]: ...

    @property
    def search(self) -> SearchService: ...


@contextmanager
def exclusive(services: RunLockHolder, what: str = "model") -> Iterator[None]:
    """Hold the one lock of fine-tune runs and model switches; `RunInProgressError` when it is taken."""
    try:
        with services.run_lock.hold(what):
            yield
    except LockTimeoutError:
        raise RunInProgressError("a fine-tune run or a model switch is already under way") from None


def should_train(services: TrainingCheck) -> str | None:
    """Why the scheduled check should train now, or None: enough new feedback, drift over its threshold,
    or golden-set quality below its baseline."""
    settings, registry = services.settings, services.registry
    new = services.feedback.count() - registry.feedback_trained_through()
    if new >= settings.finetune_min_new_pairs:
        return f"{new} new feedback pairs (at least {settings.finetune_min_new_pairs})"
    live = services.embedder.model_version
    if settings.finetune_on_drift:
        for kind in KINDS:
            result = checks.current(services.health.get(checks.drift_key(kind)), live)
            if result is not None and result.get("over"):
                return f"{kind} drift {result['value']:.4f} over its threshold {result['threshold']:.4f}"
    if settings.finetune_on_quality_drop:
        quality = checks.current(services.health.get(QUALITY_RESULT), live)
        if quality is not None:
            for name in METRIC_NAMES:
                if quality[name] < quality["baseline"][name] - settings.finetune_tolerance:
                    return f"{name} {quality[name]:.4f} below its baseline {quality['baseline'][name]:.4f}"
    return None


def why_not(services: TrainingCheck) -> str:
    """What the scheduled check saw when it found no reason to train, in words."""
    settings = services.settings
    new = services.feedback.count() - services.registry.feedback_trained_through()
    return (
        f"nothing calls for a run: {new} new feedback pairs (a run needs {settings.finetune_min_new_pairs}), "
        "no drift over its threshold, no golden-set metric below its baseline; `--now` trains anyway"
    )


def new_version(base: str, now: float) -> str:
    return f"{base}-ft-{datetime.fromtimestamp(now, UTC):%Y%m%d-%H%M%S}"


def queued_run(services: RunQueueing, trigger: str, version: str | None = None) -> ModelRun:
    """A new local run, recorded as a candidate before it starts (so a caller can follow it by version)."""
    now = time.time()
    live = services.registry.by_collection(services.models.live_collection(fresh=True))
    run = ModelRun(
        version=version or new_version(services.models.base.model_version, now),
        backend=Backend.LOCAL,
        status=RunStatus.CANDIDATE,
        created_at=now,
        base_model=services.settings.embedding_model,
        parent=live.version if live else services.embedder.model_version,
        trigger=trigger,
        stage=Stage.QUEUED,
    )
    services.registry.put(run)
    return run


def run_in_progress(services: RunQueueing) -> ModelRun | None:
    """The local run being trained or evaluated now, or queued for a worker, if any. A candidate whose
    process died (no one holds the lock, and it is not waiting for a worker) is not: the next run records it
    as failed."""
    candidates = [
        run
        for run in services.registry.runs()
        if run.backend is Backend.LOCAL and run.status is RunStatus.CANDIDATE
    ]
    if not candidates:
        return None
    if lock_held(services):
        return candidates[-1]
    waiting = [
        run for run in candidates if run.stage == Stage.QUEUED and time.time() - run.created_at < _QUEUED
    ]
    return waiting[-1] if waiting else None


def lock_held(services: RunLockHolder) -> bool:
    """Whether a run or a switch holds the lock now (anywhere)."""
    try:
        with exclusive(services):
            return False
    except RunInProgressError:
        return True


def fine_tune(
    services: TrainingServices, trigger: str, progress: Progress, version: str | None = None
) -> ModelRun:
    """Train, evaluate and promote or reject one candidate (the caller holds `exclusive`)."""
    registry = services.registry
    started = time.time()
    services.models.record_base()  # if the registry was out of reach at start-up: rollback needs the base
    run = (registry.get(version) if version else None) or queued_run(services, trigger, version)
    _settle_interrupted(services, run.version)
    reporter = _Reporter(services, run, progress)
    try:
        _run(services, run, reporter)
    except Exception as exc:
        log.exception("fine-tune %s failed", run.version)
        lifecycle.decide(run, RunStatus.FAILED)
        run.reason = f"{type(exc).__name__}: {exc}"
        _abandon(services, run)
        services.metrics.finetune_runs.labels(LOCAL, "failed").inc()
    run.duration_s = round(time.time() - started, 3)
    lifecycle.finish(run)  # the record is final: `freshrag finetune` follows the run until it is settled
    registry.put(run)
    return run


def _run(services: TrainingServices, run: ModelRun, reporter: _Reporter) -> None:
    settings, registry = services.settings, services.registry
    golden = settings.golden_set
    if golden is None:
        raise ValueError("fine-tuning needs a golden set for its gate: set FRESHRAG_GOLDEN_SET")
    live_collection, live_embedder = services.models.live()
    reporter.stage(Stage.COLLECTING_PAIRS)
    seen = services.feedback.count()
    pairs, sources = _pairs(services, live_collection, live_embedder, golden)
    run.pairs, run.pair_sources = len(pairs), sources
    reporter.stage(Stage.TRAINING)
    live_run = registry.by_collection(live_collection)
    start_from = Path(live_run.path) if live_run and live_run.path else services.models.base.model_dir
    destination = (settings.data_dir / "finetuned" / run.version).resolve()  # the same for every process
    result = train_local(
        start_from,
        pairs,
        destination,
        TrainingOptions(
            epochs=settings.finetune_epochs,
            batch_size=settings.finetune_batch_size,
            learning_rate=settings.finetune_learning_rate,
            max_seconds=settings.finetune_max_seconds,
        ),
        reporter.progress,
    )
    run.path, run.loss = str(destination), result.loss
    run.timings["training"] = result.seconds
    reporter.stage(Stage.EXPORTING)
    timer = time.perf_counter()
    services.models.embedder(run)  # the serving backend (ONNX int8 by default), exported once
    run.timings["export"] = round(time.perf_counter() - timer, 3)
    reporter.stage(Stage.RE_EMBEDDING)
    switch = Switch(services.store, services.models, services.locks, services.chunker, reporter.progress)
    report = switch.prepare(run)
    run.timings["re-embed"] = report.seconds
    reporter.stage(Stage.EVALUATING)
    timer = time.perf_counter()
    live_metrics = _metrics(services, golden, live_collection, live_embedder)
    candidate_metrics = _metrics(services, golden, run.collection or "", services.models.embedder(run))
    run.timings["evaluation"] = round(time.perf_counter() - timer, 3)
    run.metrics, run.baseline_metrics = candidate_metrics, live_metrics
    verdict = judge(candidate_metrics, live_metrics, settings.finetune_margin, settings.finetune_tolerance)
    run.reason = verdict.reason
    if verdict.promote:
        reporter.stage(Stage.PROMOTING)
        promote(services, run, switch)
        services.metrics.finetune_runs.labels(LOCAL, "promoted").inc()
    else:
        log.info("candidate %s rejected: %s", run.version, verdict.reason)
        lifecycle.decide(run, RunStatus.REJECTED)
        switch.abandon(run)
        services.metrics.finetune_runs.labels(LOCAL, "rejected").inc()
    registry.set_feedback_trained_through(seen)


def promote(services: PromotionServices, run: ModelRun, switch: Switch) -> None:
    """Swap `run` (prepared) live, then the follow-ups: the model info metric, the drift reference, the
    golden-set baseline of the new model, the collections no longer kept."""
    switch.swap(run)
    try:  # the model is live: nothing below may make the run look failed
        checks.reset_corpus_reference(services)
        if services.settings.golden_set is not None and run.metrics is not None:
            key = baseline_key(golden_set_name(services.settings.golden_set), run.version)
            if services.health.get(key) is None:
                services.health.put(key, run.metrics)
        switch.drop_retired(services.settings.models_keep)
    except Exception:
        log.exception("%s is live, but a follow-up of its promotion failed", run.version)


def _pairs(
    services: TrainingServices, collection: str, embedder: Embedder, golden: Path
) -> tuple[list[training_pairs.Pair], dict[str, int]]:
    settings = services.settings
    exclude = {training_pairs.normalise(query) for query in read_queries(golden).values()}
    judged = training_pairs.latest_relevant(services.feedback.entries(), exclude)[
        : settings.finetune_max_pairs
    ]
    found = training_pairs.feedback_pairs(
        judged, services.store, collection, embedder, services.chunker.embed_text
    )
    llm = _llm_pairs(services, collection)
    room = max(settings.finetune_max_pairs - len(found) - len(llm), 0)
    corpus = training_pairs.corpus_pairs(
        services.store.all_chunk_payloads(collection), min(settings.finetune_corpus_pairs, room)
    )
    chosen = found + llm + corpus
    return chosen, {
        training_pairs.FEEDBACK: len(found),
        training_pairs.LLM: len(llm),
        training_pairs.CORPUS: len(corpus),
    }


def _llm_pairs(services: TrainingServices, collection: str) -> list[training_pairs.Pair]:
    settings = services.settings
    if settings.finetune_llm_queries <= 0 or settings.openai_api_key is None:
        return []
    from freshrag.training.llm_queries import write_queries
    from freshrag.training.openai_tuning import openai_client

    passages = training_pairs.sample_passages(
        services.store.all_chunk_payloads(collection), settings.finetune_llm_queries
    )
    written = write_queries(openai_client(settings), settings.openai_query_model, passages)
    return [training_pairs.Pair(question, passage, training_pairs.LLM) for question, passage in written]


def _metrics(
    services: TrainingServices, golden: Path, collection: str, embedder: Embedder
) -> dict[str, float]:
    quality = evaluate_golden_set(
        golden, services.store, embedder, services.folders, None, collection, services.search.live_retrieval()
    )
    return {name: round(float(getattr(quality, name)), 6) for name in METRIC_NAMES}


def _abandon(services: TrainingServices, run: ModelRun) -> None:
    if run.collection is None or run.collection == services.models.live_collection(fresh=True):
        return
    try:
        Switch(services.store, services.models, services.locks, services.chunker).abandon(run)
    except Exception:
        log.exception("could not drop the collection %s of %s", run.collection, run.version)


def _settle_interrupted(services: TrainingServices, current: str) -> None:
    """Another local candidate found while holding the lock belongs to a run that died: record it as failed
    and drop its collection."""
    for stale in services.registry.runs():
        if (
            stale.backend is Backend.LOCAL
            and stale.status is RunStatus.CANDIDATE
            and stale.version != current
        ):
            lifecycle.settle(
                stale, RunStatus.FAILED, "interrupted (its process stopped before the run finished)"
            )
            services.registry.put(stale)
            services.metrics.finetune_runs.labels(LOCAL, "failed").inc()
            _abandon(services, stale)


class _Reporter:
    """Records a run's stage and progress in the registry (at most every second) and passes progress on."""

    def __init__(self, services: TrainingServices, run: ModelRun, progress: Progress) -> None:
        self._registry = services.registry
        self._run = run
        self._progress = progress
        self._saved = 0.0

    def stage(self, name: Stage) -> None:
        log.info("fine-tune %s: %s", self._run.version, name)
        lifecycle.enter(self._run, name)
        self._run.progress = {"stage": name, "done": 0, "total": 0}
        self._registry.put(self._run)
        self._progress(name, 0, 0)

    def progress(self, stage: str, done: int, total: int) -> None:
        self._run.progress = {"stage": stage, "done": done, "total": total}
        now = time.monotonic()
        if now - self._saved >= 1.0 or done >= total:
            self._saved = now
            self._registry.put(self._run)
        self._progress(stage, done, total)
