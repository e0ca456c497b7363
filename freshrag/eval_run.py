"""`freshrag eval`: index a BEIR dataset into a throwaway store with the live chunker and model; score it."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from qdrant_client import QdrantClient

from freshrag.chunking import Chunker
from freshrag.documents import SourceKind
from freshrag.embedding import Embedder
from freshrag.evaluation import read_corpus, read_qrels, read_queries, score
from freshrag.parsing import ParsedDocument, Section
from freshrag.store import ChunkPoint, QdrantStore, chunk_point_id

Progress = Callable[[str, int, int], None]
_EMBED_BATCH = 512
# Several chunks of one document can rank high; fetch enough to fill the top 100 documents.
_CHUNKS_PER_QUERY = 300


def evaluate_dataset(
    folder: Path, embedder: Embedder, chunker: Chunker, progress: Progress | None = None
) -> dict[str, float]:
    """nDCG@10, recall@10, recall@100 and MRR@10 of the test split, plus timing figures."""
    report = progress or (lambda stage, done, total: None)
    queries = read_queries(folder)
    qrels = read_qrels(folder, "test")
    corpus = list(read_corpus(folder))
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="freshrag-eval-") as scratch:
        store = QdrantStore(QdrantClient(path=scratch), local=True)
        store.ensure_collections(embedder.dimension, embedder.model_version)
        pending: list[tuple[str, str, str]] = []  # (doc id, chunk key, text)
        for doc in corpus:
            parsed = ParsedDocument(title=doc.title, sections=[Section(heading=(), text=doc.text)])
            pending.extend((doc.doc_id, chunk.key, chunk.embed_text) for chunk in chunker.chunk(parsed))
        for start in range(0, len(pending), _EMBED_BATCH):
            batch = pending[start : start + _EMBED_BATCH]
            vectors = embedder.embed([text for _, _, text in batch])
            store.upsert_chunks(
                [
                    ChunkPoint(
                        chunk_point_id(doc_id, key),
                        vector,
                        {"doc_id": doc_id, "source_kind": SourceKind.FILE},
                    )
                    for (doc_id, key, _), vector in zip(batch, vectors, strict=True)
                ]
            )
            report("embedding corpus", min(start + _EMBED_BATCH, len(pending)), len(pending))
        indexed = time.perf_counter()
        judged = [query_id for query_id in qrels if query_id in queries]
        query_vectors = embedder.embed([queries[query_id] for query_id in judged])
        rankings: dict[str, list[str]] = {}
        for number, (query_id, vector) in enumerate(zip(judged, query_vectors, strict=True), 1):
            ranked = dict.fromkeys(hit.payload["doc_id"] for hit in store.search(vector, _CHUNKS_PER_QUERY))
            rankings[query_id] = list(ranked)[:100]
            if number % 50 == 0 or number == len(judged):
                report("searching", number, len(judged))
        store.close()
    metrics = score(rankings, {query_id: qrels[query_id] for query_id in judged})
    return metrics | {
        "documents": len(corpus),
        "chunks": len(pending),
        "queries": len(judged),
        "index_seconds": round(indexed - started, 1),
        "search_seconds": round(time.perf_counter() - indexed, 1),
    }
