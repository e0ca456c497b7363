"""The scheduled checks behind the quality and drift metrics, on the shared health state: each reads what it
needs from the store and the state, and writes its result back for /metrics, /status and the status page."""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Any, Protocol

from freshrag.activity import decode_vectors
from freshrag.catalog import ModelCatalog
from freshrag.embedding import Embedder
from freshrag.health import drift, retrieval_choice
from freshrag.health.quality import (
    QUALITY_RESULT,
    Quality,
    baseline_key,
    evaluate_golden_set,
    golden_set_name,
)
from freshrag.queue import ChangeQueue
from freshrag.search import SearchService
from freshrag.settings import Settings
from freshrag.sources import WatchedFolder
from freshrag.state.health import QUERIES, HealthState
from freshrag.store import Store

log = logging.getLogger(__name__)

# Fewer vectors than this make a centroid too noisy to say anything.
MIN_SAMPLE = 20


def drift_key(kind: str) -> str:
    return f"drift:{kind}"


def reference_key(kind: str, model_version: str) -> str:
    return f"drift:reference:{kind}:{model_version}"


def current(result: dict[str, Any] | None, model_version: str) -> dict[str, Any] | None:
    """A check's last result, unless it measured another model than the live one (after a promotion or a
    rollback, until the check runs again)."""
    return result if result is not None and result.get("model_version") == model_version else None


class CorpusServices(Protocol):
    """What the drift checks use: the live model's version, the store they sample and the state they keep
    their reference and results in."""

    @property
    def settings(self) -> Settings: ...

    @property
    def embedder(self) -> Embedder: ...

    @property
    def store(self) -> Store: ...

    @property
    def health(self) -> HealthState: ...


class DriftServices(CorpusServices, Protocol):
    """The corpus drift check also looks at the queue: it waits for a quiet index."""

    @property
    def queue(self) -> ChangeQueue: ...


class QualityServices(Protocol):
    """What the golden-set check uses."""

    @property
    def settings(self) -> Settings: ...

    @property
    def store(self) -> Store: ...

    @property
    def health(self) -> HealthState: ...

    @property
    def models(self) -> ModelCatalog: ...

    @property
    def search(self) -> SearchService: ...

    @property
    def folders(self) -> list[WatchedFolder]: ...


def measure_corpus_drift(services: DriftServices) -> drift.Drift | None:
    """Corpus drift of a random sample of live chunk vectors; a model's first measure is its reference."""
    size = services.settings.drift_sample_size
    model = services.embedder.model_version
    state = services.health
    stored = state.get(reference_key(drift.CORPUS, model))
    if stored is None:
        if services.queue.pending.depth() > 0:
            return None  # a load in progress would bias the reference: take it once the backlog is empty
        vectors = services.store.sample_vectors(size)
        if len(vectors) < MIN_SAMPLE:
            return None
        reference = drift.take_reference(drift.CORPUS, model, vectors, min(size, len(vectors)))
        state.put(reference_key(drift.CORPUS, model), reference.to_json())
    else:
        reference = drift.Reference.from_json(stored)
    live = services.store.sample_vectors(size)
    if len(live) < MIN_SAMPLE:
        return None
    return _record(state, drift.measure(reference, live))


def reset_corpus_reference(services: CorpusServices) -> None:
    """Take the corpus reference again now (a promotion of a model calls this once its collection is live)."""
    size = services.settings.drift_sample_size
    model = services.embedder.model_version
    vectors = services.store.sample_vectors(size)
    if len(vectors) >= MIN_SAMPLE:
        reference = drift.take_reference(drift.CORPUS, model, vectors, min(size, len(vectors)))
        services.health.put(reference_key(drift.CORPUS, model), reference.to_json())


def measure_query_drift(services: CorpusServices) -> drift.Drift | None:
    """Query drift of the newest window of user queries; the first full window a model answered is its
    reference."""
    return query_drift(services.health, services.embedder.model_version, services.settings.drift_window)


def query_drift(state: HealthState, model: str, window: int) -> drift.Drift | None:
    recent = [entry for entry in state.tail(QUERIES, window) if entry.get("model") == model]
    stored = state.get(reference_key(drift.QUERY, model))
    if stored is None:
        if len(recent) < window:
            return None  # the reference window is not full yet
        reference = drift.take_reference(drift.QUERY, model, _vectors(recent), window)
        state.put(reference_key(drift.QUERY, model), reference.to_json())
    else:
        reference = drift.Reference.from_json(stored)
    if len(recent) < MIN_SAMPLE:
        return None
    return _record(state, drift.measure(reference, _vectors(recent)))


def evaluate_quality(services: QualityServices) -> Quality | None:
    """Score the live index on the golden set under the live retrieval; unless a mode is pinned, also score
    every candidate retrieval and move search to a better one (see `freshrag.health.retrieval_choice`)."""
    folder = services.settings.golden_set
    if folder is None:
        return None
    collection, embedder = services.models.live()
    eval_set = golden_set_name(folder)
    live = services.search.live_retrieval()
    if retrieval_choice.pinned(services.settings) is None:
        scored = {
            candidate: evaluate_golden_set(
                folder, services.store, embedder, services.folders, None, collection, candidate
            )
            for candidate in dict.fromkeys([live, *retrieval_choice.CANDIDATES])
        }
        chosen = retrieval_choice.choose(
            {candidate: q.ndcg_at_10 for candidate, q in scored.items()},
            live,
            services.settings.golden_mode_margin,
        )
        choice = retrieval_choice.Choice(
            chosen, chosen != live, {candidate.label: q.ndcg_at_10 for candidate, q in scored.items()}
        )
        retrieval_choice.record_choice(services.health, choice, eval_set)
        services.search.retrieval_changed()
        if choice.moved:
            log.warning(
                "golden set %s: search moves from %s to %s (nDCG@10 %.4f to %.4f)",
                eval_set,
                live.label,
                chosen.label,
                scored[live].ndcg_at_10,
                scored[chosen].ndcg_at_10,
            )
        live = chosen
    key = baseline_key(eval_set, embedder.model_version)
    quality = evaluate_golden_set(
        folder, services.store, embedder, services.folders, services.health.get(key), collection, live
    )
    if services.health.get(key) is None:
        services.health.put(key, quality.baseline)
    services.health.put(QUALITY_RESULT, quality.to_json() | {"retrieval": live.label})
    log.info(
        "golden set %s (%s): nDCG@10 %.4f, recall@10 %.4f, MRR@10 %.4f (%d queries, %.1f s)",
        quality.eval_set,
        live.label,
        quality.ndcg_at_10,
        quality.recall_at_10,
        quality.mrr_at_10,
        quality.queries,
        quality.seconds,
    )
    return quality


def _vectors(entries: list[dict[str, Any]]) -> Any:
    return decode_vectors([entry["vector"] for entry in entries])


def _record(state: HealthState, measured: drift.Drift) -> drift.Drift:
    state.put(drift_key(measured.kind), asdict(measured) | {"over": measured.over})
    if measured.over:
        log.warning(
            "%s drift %.4f is over its threshold %.4f", measured.kind, measured.value, measured.threshold
        )
    return measured
