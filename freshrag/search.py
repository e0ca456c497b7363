"""Search: embed the query with the live collection's model, find the best chunks by the live mode (dense,
keyword or both fused), name each answer's source."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from freshrag.activity import Activity
from freshrag.catalog import ModelCatalog
from freshrag.retrieval import DEFAULT_RETRIEVAL, Retrieval
from freshrag.store import ChunkQuery, Hit, SearchMode, Store
from freshrag.store.keywords import query_terms
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
    similarity: float
    version: int
    indexed_at: float | None


@dataclass(frozen=True)
class SearchResponse:
    query: str
    results: list[SearchResult]
    model_version: str
    mode: SearchMode
    weights: tuple[float, float] | None  # hybrid's fusion weights (dense, keyword)
    took_ms: float


class RetrievalSource(Protocol):
    """Says the live retrieval at each call; `forget` drops what it cached (the choice just changed)."""

    def __call__(self) -> Retrieval: ...

    def forget(self) -> None: ...


class FixedRetrieval:
    """One retrieval, always (tests, and tools that search with a mode of their own)."""

    def __init__(self, retrieval: Retrieval = DEFAULT_RETRIEVAL) -> None:
        self._retrieval = retrieval

    def __call__(self) -> Retrieval:
        return self._retrieval

    def forget(self) -> None:
        """Nothing is cached."""


class SearchService:
    """Searches the live collection. `retrieval` says the live mode at each call (pinned by a setting, or
    chosen by the golden set); a caller may ask for another mode per search."""

    def __init__(
        self,
        store: Store,
        models: ModelCatalog,
        metrics: Metrics,
        activity: Activity | None = None,
        retrieval: RetrievalSource | None = None,
    ) -> None:
        self._store = store
        self._models = models
        self._metrics = metrics
        self._activity = activity
        self._retrieval: RetrievalSource = retrieval or FixedRetrieval()

    @property
    def activity(self) -> Activity | None:
        """Where users' queries are logged (None for freshrag's own searches)."""
        return self._activity

    def live_retrieval(self) -> Retrieval:
        return self._retrieval()

    def retrieval_changed(self) -> None:
        """Read the live retrieval afresh at the next search (this process just changed it)."""
        self._retrieval.forget()

    def search(
        self,
        query: str,
        k: int = 10,
        where: dict[str, Any] | None = None,
        *,
        mode: SearchMode | None = None,
        weights: tuple[float, float] | None = None,
        record: bool = False,
        gap_below: float | None = None,
    ) -> SearchResponse:
        """The `k` best chunks for `query`, each with its document's current version. `score` is the
        mode's own (cosine for dense, BM25 for keyword, fused rank for hybrid); `similarity` is the cosine
        of query and chunk in every mode. `mode` and `weights` override the live ones for this search.
        With `record`, the query is a user's: it counts in the search metrics and the query log (knowledge
        gaps, query drift); freshrag's own searches pass `record=False`. A recorded query whose best
        similarity is under `gap_below` (the answer path's grounding threshold) is a knowledge gap whatever
        FRESHRAG_GAP_SCORE says."""
        started = time.perf_counter()
        unknown = set(where or {}) - set(FILTERABLE)
        if unknown:
            raise ValueError(f"cannot filter on {sorted(unknown)}; filterable fields: {list(FILTERABLE)}")
        live = self._retrieval()
        retrieval = Retrieval(mode or live.mode, weights or live.weights)
        collection, embedder = self._models.live()
        vector = embedder.embed_query(query)
        chunk_query = ChunkQuery(
            limit=k,
            dense=vector if retrieval.mode is not SearchMode.KEYWORD else None,
            sparse=query_terms(query) if retrieval.mode is not SearchMode.DENSE else None,
            where={key: str(value) for key, value in (where or {}).items()},
            weights=retrieval.weights,
        )
        hits = self._store.search(chunk_query, collection)
        similarities = self._similarities(hits, vector, collection)
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
                    similarity=round(similarities.get(hit.id, 0.0), 6),
                    version=document.version if document else 0,
                    indexed_at=document.indexed_at if document else None,
                )
            )
        took = time.perf_counter() - started
        if record:
            self._metrics.search_latency.observe(took)
            top = max((result.similarity for result in results), default=None)
            if top is not None:
                self._metrics.search_top_score.observe(top)
            else:
                self._metrics.search_empty.inc()
            if self._activity is not None:
                unanswered = gap_below is not None and (top is None or top < gap_below)
                self._activity.searched(query, top, vector, embedder.model_version, unanswered=unanswered)
        weights = retrieval.weights if retrieval.mode is SearchMode.HYBRID else None
        return SearchResponse(
            query, results, embedder.model_version, retrieval.mode, weights, round(took * 1000, 2)
        )

    def _similarities(self, hits: list[Hit], vector: np.ndarray, collection: str) -> dict[str, float]:
        """Each hit's cosine to the query: from the search, else (keyword mode) scored by the store."""
        known = {hit.id: hit.similarity for hit in hits if hit.similarity is not None}
        missing = [hit.id for hit in hits if hit.similarity is None]
        if missing:
            known |= self._store.chunk_similarities(missing, vector, collection)
        return known
