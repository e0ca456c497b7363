"""Search: embed the query with the live collection's model, find the nearest chunks, name each answer's
source."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from freshrag.catalog import ModelCatalog
from freshrag.health.activity import Activity
from freshrag.store import QdrantStore
from freshrag.telemetry import Metrics

FILTERABLE = ("doc_id", "root", "source_kind", "uri", "title")


@dataclass(frozen=True)
class SearchResult:
    doc_id: str
    uri: str
    title: str
    heading: list[str]
    text: str
    score: float
    version: int
    indexed_at: float | None


@dataclass(frozen=True)
class SearchResponse:
    query: str
    results: list[SearchResult]
    model_version: str
    took_ms: float


class SearchService:
    def __init__(
        self, store: QdrantStore, models: ModelCatalog, metrics: Metrics, activity: Activity | None = None
    ) -> None:
        self._store = store
        self._models = models
        self._metrics = metrics
        self._activity = activity

    def search(
        self, query: str, k: int = 10, where: dict[str, Any] | None = None, *, record: bool = False
    ) -> SearchResponse:
        """The `k` chunks nearest to `query`, each with its document's current version. With `record`, the
        query is a user's: it counts in the search metrics and the query log (knowledge gaps, query drift);
        freshrag's own searches (canary, golden set, tests of the index) pass `record=False`."""
        started = time.perf_counter()
        unknown = set(where or {}) - set(FILTERABLE)
        if unknown:
            raise ValueError(f"cannot filter on {sorted(unknown)}; filterable fields: {list(FILTERABLE)}")
        collection, embedder = self._models.live()
        vector = embedder.embed([query])[0]
        hits = self._store.search(
            vector, k, {key: str(value) for key, value in (where or {}).items()}, collection
        )
        records = self._store.get_records([hit.payload["doc_id"] for hit in hits])
        results = []
        for hit in hits:
            document = records.get(hit.payload["doc_id"])
            results.append(
                SearchResult(
                    doc_id=hit.payload["doc_id"],
                    uri=hit.payload.get("uri", ""),
                    title=hit.payload.get("title", ""),
                    heading=list(hit.payload.get("heading", [])),
                    text=hit.payload.get("text", ""),
                    score=round(hit.score, 6),
                    version=document.version if document else 0,
                    indexed_at=document.indexed_at if document else None,
                )
            )
        took = time.perf_counter() - started
        if record:
            self._metrics.search_latency.observe(took)
            top = results[0].score if results else None
            if top is not None:
                self._metrics.search_top_score.observe(top)
            else:
                self._metrics.search_empty.inc()
            if self._activity is not None:
                self._activity.searched(query, top, vector, embedder.model_version)
        return SearchResponse(query, results, embedder.model_version, round(took * 1000, 2))
