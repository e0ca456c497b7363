"""Prometheus metrics, named as DESIGN.md fixes them (dashboards and alerts depend on these names).

One `Metrics` per process, on its own registry, so that tests and embedded runtimes never collide.
Labels are bounded: source kinds, operations, outcomes and statuses are enums, never document ids.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# 10 ms to 30 min: from a one-line edit on an idle machine to a backlog after a bulk drop.
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800)
SEARCH_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)
SCORE_BUCKETS = tuple(round(0.1 * i, 1) for i in range(-2, 11))


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.update_latency = Histogram(
            "freshrag_update_latency_seconds",
            "Time from a change being detected to it being searchable.",
            ["source_kind", "op"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.events = Counter(
            "freshrag_events_total",
            "Changes processed, by source kind, operation and outcome.",
            ["source_kind", "op", "outcome"],
            registry=r,
        )
        self.chunks_embedded = Counter(
            "freshrag_chunks_embedded_total", "Chunks whose text was new and had to be embedded.", registry=r
        )
        self.chunks_reused = Counter(
            "freshrag_chunks_reused_total",
            "Chunks found unchanged in the index and kept as they were.",
            registry=r,
        )
        self.queue_depth = Gauge("freshrag_queue_depth", "Changes waiting to be indexed.", registry=r)
        self.oldest_pending = Gauge(
            "freshrag_oldest_pending_change_age_seconds",
            "Age of the oldest change not yet searchable.",
            registry=r,
        )
        self.documents = Gauge("freshrag_documents", "Documents by status.", ["status"], registry=r)
        self.chunks = Gauge("freshrag_chunks", "Chunks in the live index.", registry=r)
        self.search_latency = Histogram(
            "freshrag_search_latency_seconds", "Time to answer a search.", buckets=SEARCH_BUCKETS, registry=r
        )
        self.search_top_score = Histogram(
            "freshrag_search_top_score",
            "Score of the best result of each search.",
            buckets=SCORE_BUCKETS,
            registry=r,
        )
        self.search_empty = Counter(
            "freshrag_search_empty_total", "Searches that returned no result.", registry=r
        )
        self.dead_letter = Gauge(
            "freshrag_dead_letter",
            "Changes that failed every retry and wait for `freshrag replay-dead-letters`.",
            registry=r,
        )
        self.webhook_deliveries = Counter(
            "freshrag_webhook_deliveries_total",
            "Webhook deliveries by source and what was done with them (accepted, duplicate, ignored, stale, "
            "unauthorized, malformed, too_large, unsupported_media_type, unknown_source, unavailable).",
            ["source", "outcome"],
            registry=r,
        )
        self.model_info = Gauge(
            "freshrag_model_info",
            "The live embedding model (value 1).",
            ["version", "base_model"],
            registry=r,
        )
