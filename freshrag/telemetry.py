"""Prometheus metrics, named as DESIGN.md fixes them (dashboards and alerts depend on these names).

One `Metrics` per process, on its own registry, so that tests and embedded runtimes never collide. These are
the metrics a process observes as it works; what is read from shared state at scrape time (queue depth,
documents, drift, quality) is exported by `freshrag.health.collector` from the API only. Labels are bounded:
source kinds, operations, outcomes and statuses are enums, never document ids.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from freshrag.reasons import REASON_KINDS

# 10 ms to 30 min: from a one-line edit on an idle machine to a backlog after a bulk drop.
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800)
SEARCH_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)
# 1 ms (a text file) to 5 min (OCR of many pages under a raised time limit).
PARSE_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
SCORE_BUCKETS = tuple(round(0.1 * i, 1) for i in range(-2, 11))
CANARY_OUTCOMES = ("found", "timeout", "error")
FINETUNE_BACKENDS = ("local", "openai")
FINETUNE_OUTCOMES = ("promoted", "rejected", "failed")
# Retrieval takes milliseconds; generation seconds, up to FRESHRAG_ANSWER_TIMEOUT_SECONDS.
ASK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
ASK_STAGES = ("retrieval", "generation", "total")
ASK_ROUTES = ("rag", "hybrid", "cascade")
ASK_OUTCOMES = ("answered", "no_information", "fallback", "llm_error")


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.update_latency = Histogram(
            "freshrag_update_latency_seconds",
            "Time from a live change being detected to it being searchable (backfills are measured apart).",
            ["source_kind", "op"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        # Bulk loads (reconciles, ingest, bursts) wait behind one another by design: kept out of the SLO
        # histogram above, so that a first load of a corpus never reads as stale live edits.
        self.backfill_latency = Histogram(
            "freshrag_backfill_latency_seconds",
            "Time from a backfill change (reconcile, ingest, burst) being detected to it being searchable.",
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
        self.search_latency = Histogram(
            "freshrag_search_latency_seconds", "Time to answer a search.", buckets=SEARCH_BUCKETS, registry=r
        )
        self.search_top_score = Histogram(
            "freshrag_search_top_score",
            "Score of the best result of each search.",
            buckets=SCORE_BUCKETS,
            registry=r,
        )
        self.parse_seconds = Histogram(
            "freshrag_parse_seconds",
            "Time to parse one file in a parser process (OCR and conversion included), by format.",
            ["format"],
            buckets=PARSE_BUCKETS,
            registry=r,
        )
        self.not_indexed = Counter(
            "freshrag_not_indexed_total",
            "Changes that left a document skipped or failed, by status and kind of reason (see "
            "freshrag.reasons).",
            ["status", "reason"],
            registry=r,
        )
        for status in ("skipped", "failed"):  # every series exists from the start: rates and alerts see 0
            for kind in REASON_KINDS:
                self.not_indexed.labels(status, kind)
        self.search_empty = Counter(
            "freshrag_search_empty_total", "Searches that returned no result.", registry=r
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
            multiprocess_mode="mostrecent",
        )
        self.source_latency = Histogram(
            "freshrag_source_latency_seconds",
            "Time from the source's own timestamp (file mtime, CMS update time) to searchable.",
            ["source_kind"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.canary_latency = Histogram(
            "freshrag_canary_latency_seconds",
            "A synthetic canary document written through the queue and found again by search, end to end.",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.canary_runs = Counter(
            "freshrag_canary_runs_total",
            "Canary runs by outcome (found, timeout, error).",
            ["outcome"],
            registry=r,
        )
        self.finetune_runs = Counter(
            "freshrag_finetune_runs_total",
            "Fine-tune runs by backend (local, openai) and outcome (promoted, rejected, failed).",
            ["backend", "outcome"],
            registry=r,
        )
        self.feedback = Counter(
            "freshrag_feedback_total",
            "User feedback stored for fine-tuning (POST /feedback), by judgement (relevant true or false).",
            ["relevant"],
            registry=r,
        )
        for relevant in ("true", "false"):
            self.feedback.labels(relevant)
        self.storage_writable = Gauge(
            "freshrag_storage_writable",
            "1 while this process can write its data dir; 0 from a failed write until a write succeeds.",
            registry=r,
            multiprocess_mode="livemin",  # any live process that cannot write makes the node 0
        )
        self.storage_writable.set(1)
        self.ask_seconds = Histogram(
            "freshrag_ask_seconds",
            "Time to answer POST /ask, by stage: retrieval, generation (the chat model), total.",
            ["stage"],
            buckets=ASK_BUCKETS,
            registry=r,
        )
        self.ask_total = Counter(
            "freshrag_ask",
            "Answers by route (rag, hybrid, cascade) and outcome (answered, no_information, fallback, "
            "llm_error).",
            ["route", "outcome"],
            registry=r,
        )
        self.ask_tokens = Counter(
            "freshrag_ask_tokens",
            "Tokens the answer models used, by model and kind (prompt, completion).",
            ["model", "kind"],
            registry=r,
        )
        self.ask_citations_dropped = Counter(
            "freshrag_ask_citations_dropped",
            "Citation numbers answer models wrote that named no passage of the prompt (dropped).",
            registry=r,
        )
        # Series that alerts and dashboards read exist from the start, at zero.
        for route in ASK_ROUTES:
            for outcome in ASK_OUTCOMES:
                self.ask_total.labels(route, outcome)
        for stage in ASK_STAGES:
            self.ask_seconds.labels(stage)
        for outcome in CANARY_OUTCOMES:
            self.canary_runs.labels(outcome)
        for backend in FINETUNE_BACKENDS:
            for outcome in FINETUNE_OUTCOMES:
                self.finetune_runs.labels(backend, outcome)
