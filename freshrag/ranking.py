"""Ranking documents for many queries at once under one retrieval (mode and weights): what golden-set checks,
the fine-tune gate and `freshrag eval` score."""

from __future__ import annotations

from freshrag.embedding import Embedder
from freshrag.evaluation import Rankings
from freshrag.retrieval import Retrieval
from freshrag.store import ChunkQuery, SearchMode, Store
from freshrag.store.keywords import query_terms

# Several chunks of one document can rank high; fetch enough to fill the top 100 documents.
CHUNKS_PER_QUERY = 300


def rank_documents(
    store: Store,
    embedder: Embedder,
    queries: dict[str, str],
    retrieval: Retrieval,
    collection: str | None = None,
    depth: int = 100,
    chunks: int = CHUNKS_PER_QUERY,
) -> Rankings:
    """For each query id, the ids of the documents of its best chunks, best first, at most `depth`."""
    ids = list(queries)
    dense = retrieval.mode is not SearchMode.KEYWORD
    vectors = embedder.embed([queries[query_id] for query_id in ids]) if dense else None
    rankings: Rankings = {}
    for row, query_id in enumerate(ids):
        query = ChunkQuery(
            limit=chunks,
            dense=vectors[row] if vectors is not None else None,
            sparse=query_terms(queries[query_id]) if retrieval.mode is not SearchMode.DENSE else None,
            weights=retrieval.weights,
        )
        hits = store.search(query, collection)
        rankings[query_id] = list(dict.fromkeys(hit.payload["doc_id"] for hit in hits))[:depth]
    return rankings
