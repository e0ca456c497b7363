"""Metrics read from shared state when Prometheus scrapes: queue depth, documents, dead letters, workers
alive, drift, retrieval quality and knowledge gaps. Registered on the API's registry only, so that a
distributed deployment exports each of them once, whatever the number of workers."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Protocol

from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from freshrag.activity import knowledge_gaps
from freshrag.embedding import Embedder
from freshrag.health import drift, retrieval_choice
from freshrag.health.checks import current, drift_key
from freshrag.health.quality import METRICS, QUALITY_RESULT
from freshrag.queue import ChangeQueue
from freshrag.search import SearchService
from freshrag.settings import Settings
from freshrag.state.dead_letters import DeadLetters
from freshrag.state.health import QUERIES, HealthState
from freshrag.store import Store

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 15.0
# A worker is alive when its heartbeat is younger than this (four missed beats).
ALIVE_SECONDS = 60.0
GAP_QUERIES = 1000


class CollectorServices(Protocol):
    """What the collector reads at each scrape."""

    @property
    def settings(self) -> Settings: ...

    @property
    def store(self) -> Store: ...

    @property
    def health(self) -> HealthState: ...

    @property
    def embedder(self) -> Embedder: ...

    @property
    def queue(self) -> ChangeQueue: ...

    @property
    def dead_letters(self) -> DeadLetters: ...

    @property
    def search(self) -> SearchService: ...


class HealthCollector(Collector):
    def __init__(self, services: CollectorServices) -> None:
        self._services = services

    def collect(self) -> Iterator[Metric]:
        parts = (
            self._backlog,
            self._index,
            self._workers,
            self._drift,
            self._quality,
            self._search,
            self._gaps,
        )
        for part in parts:
            yield from _guarded(part)

    def _backlog(self) -> Iterator[Metric]:
        pending = self._services.queue.pending
        yield GaugeMetricFamily("freshrag_queue_depth", "Changes waiting to be indexed.", pending.depth())
        yield GaugeMetricFamily(
            "freshrag_oldest_pending_change_age_seconds",
            "Age of the oldest change not yet searchable.",
            pending.oldest_age(),
        )
        yield GaugeMetricFamily(
            "freshrag_dead_letter",
            "Changes that failed every retry and wait for `freshrag replay-dead-letters`.",
            self._services.dead_letters.count(),
        )

    def _index(self) -> Iterator[Metric]:
        store = self._services.store
        documents = GaugeMetricFamily("freshrag_documents", "Documents by status.", labels=["status"])
        for status, count in store.count_records().items():
            documents.add_metric([status.value], count)
        yield documents
        yield GaugeMetricFamily("freshrag_chunks", "Chunks in the live index.", store.count_chunks())

    def _workers(self) -> Iterator[Metric]:
        alive = self._services.health.alive(time.time() - ALIVE_SECONDS)
        yield GaugeMetricFamily(
            "freshrag_workers_alive", f"Workers with a heartbeat in the last {ALIVE_SECONDS:g} s.", len(alive)
        )

    def _drift(self) -> Iterator[Metric]:
        value = GaugeMetricFamily(
            "freshrag_embedding_drift",
            "Cosine distance between the live centroid and the reference centroid.",
            labels=["kind"],
        )
        threshold = GaugeMetricFamily(
            "freshrag_embedding_drift_threshold",
            "p99 of the same distance between resamples of the reference: noise alone stays below.",
            labels=["kind"],
        )
        for kind in drift.KINDS:
            measured = current(
                self._services.health.get(drift_key(kind)), self._services.embedder.model_version
            )
            if measured is not None:
                value.add_metric([kind], measured["value"])
                threshold.add_metric([kind], measured["threshold"])
        yield value
        yield threshold

    def _quality(self) -> Iterator[Metric]:
        quality = current(self._services.health.get(QUALITY_RESULT), self._services.embedder.model_version)
        baseline = GaugeMetricFamily(
            "freshrag_retrieval_baseline",
            "Retrieval quality on the golden set when the live model went live.",
            labels=["eval_set", "metric"],
        )
        for name in METRICS:
            gauge = GaugeMetricFamily(
                f"freshrag_retrieval_{name}",
                f"{name} of the live index on the golden set.",
                labels=["eval_set"],
            )
            if quality is not None:
                gauge.add_metric([quality["eval_set"]], quality[name])
                baseline.add_metric([quality["eval_set"], name], quality["baseline"][name])
            yield gauge
        yield baseline

    def _search(self) -> Iterator[Metric]:
        live = self._services.search.live_retrieval()
        info = GaugeMetricFamily(
            "freshrag_search_mode_info",
            "How searches rank now (1 for the live mode and its hybrid weights dense:keyword).",
            labels=["mode", "weights"],
        )
        info.add_metric([live.mode.value, f"{live.weights[0]:g}:{live.weights[1]:g}"], 1)
        yield info
        stored = self._services.health.get(retrieval_choice.RETRIEVAL_KEY) or {}
        by_mode = GaugeMetricFamily(
            "freshrag_search_mode_ndcg_at_10",
            "nDCG@10 of each candidate retrieval on the golden set at its last scheduled check.",
            labels=["eval_set", "retrieval"],
        )
        for label, value in (stored.get("scores") or {}).items():
            by_mode.add_metric([str(stored.get("eval_set", "")), label], float(value))
        yield by_mode

    def _gaps(self) -> Iterator[Metric]:
        queries = self._services.health.tail(QUERIES, GAP_QUERIES)
        gaps = knowledge_gaps(queries, self._services.settings.gap_score, limit=GAP_QUERIES)
        yield GaugeMetricFamily(
            "freshrag_knowledge_gaps",
            f"Distinct queries among the last {GAP_QUERIES} whose best score is below FRESHRAG_GAP_SCORE.",
            len(gaps),
        )


def _guarded(part: Callable[[], Iterator[Metric]]) -> list[Metric]:
    """One unreachable backend (the store, Redis) must not take the other metrics down with it."""
    try:
        return list(part())
    except Exception as exc:
        log.warning("metrics: %s unavailable: %s", part.__name__.strip("_"), exc)
        return []
