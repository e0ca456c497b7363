"""`freshrag eval`: index a BEIR dataset into a throwaway embedded store with the live chunker and model;
score it under one retrieval mode (or several, indexed once: see benchmarks/search_quality.py)."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from freshrag.chunking import Chunker
from freshrag.documents import SourceKind
from freshrag.embedding import Embedder
from freshrag.evaluation import read_corpus, read_qrels, read_queries, score
from freshrag.parsing import ParsedDocument, Section
from freshrag.ranking import rank_documents
from freshrag.retrieval import Retrieval
from freshrag.store import ChunkPoint, chunk_point_id
from freshrag.store.edge import EdgeStore
from freshrag.store.keywords import chunk_terms

Progress = Callable[[str, int, int], None]
_EMBED_BATCH = 512
_SEARCH_BATCH = 100


def _no_progress(stage: str, done: int, total: int) -> None:
    """Progress goes nowhere."""


class IndexedDataset:
    """A BEIR dataset's corpus indexed into a scratch store, ready to be scored under any retrieval."""

    def __init__(self, folder: Path, store: EdgeStore, embedder: Embedder, facts: dict[str, Any]) -> None:
        self._store = store
        self._embedder = embedder
        queries = read_queries(folder)
        qrels = read_qrels(folder, "test")
        self.judged = {query_id: queries[query_id] for query_id in qrels if query_id in queries}
        self.qrels = {query_id: qrels[query_id] for query_id in self.judged}
        self.facts = facts | {"queries": len(self.judged)}

    def evaluate(self, retrieval: Retrieval, progress: Progress = _no_progress) -> dict[str, Any]:
        """nDCG@10, recall@10, recall@100 and MRR@10 of the test split under `retrieval`."""
        started = time.perf_counter()
        ids = list(self.judged)
        rankings: dict[str, list[str]] = {}
        for start in range(0, len(ids), _SEARCH_BATCH):
            part = ids[start : start + _SEARCH_BATCH]
            rankings |= rank_documents(
                self._store, self._embedder, {q: self.judged[q] for q in part}, retrieval
            )
            progress("searching", start + len(part), len(ids))
        seconds = round(time.perf_counter() - started, 1)
        return score(rankings, self.qrels) | self.facts | {"search_seconds": seconds}


@contextmanager
def indexed_dataset(
    folder: Path, embedder: Embedder, chunker: Chunker, progress: Progress = _no_progress
) -> Iterator[IndexedDataset]:
    """Index the corpus of the BEIR dataset at `folder`; the scratch store is gone on exit."""
    started = time.perf_counter()
    corpus = list(read_corpus(folder))
    with tempfile.TemporaryDirectory(prefix="freshrag-eval-") as scratch:
        store = EdgeStore(Path(scratch))
        try:
            store.ensure_collections(embedder.dimension, embedder.model_version)
            # (doc id, chunk key, what the model sees, text, heading)
            pending: list[tuple[str, str, str, str, tuple[str, ...]]] = []
            for doc in corpus:
                parsed = ParsedDocument(title=doc.title, sections=[Section(heading=(), text=doc.text)])
                pending.extend(
                    (doc.doc_id, chunk.key, chunk.embed_text, chunk.text, chunk.heading)
                    for chunk in chunker.chunk(parsed)
                )
            titles = {doc.doc_id: doc.title for doc in corpus}
            for start in range(0, len(pending), _EMBED_BATCH):
                batch = pending[start : start + _EMBED_BATCH]
                vectors = embedder.embed([embed_text for _, _, embed_text, _, _ in batch])
                store.upsert_chunks(
                    [
                        ChunkPoint(
                            chunk_point_id(doc_id, key),
                            vector,
                            {"doc_id": doc_id, "source_kind": SourceKind.FILE.value},
                            chunk_terms(titles[doc_id], heading, text),
                        )
                        for (doc_id, key, _, text, heading), vector in zip(batch, vectors, strict=True)
                    ]
                )
                progress("embedding corpus", min(start + _EMBED_BATCH, len(pending)), len(pending))
            facts = {
                "documents": len(corpus),
                "chunks": len(pending),
                "index_seconds": round(time.perf_counter() - started, 1),
            }
            yield IndexedDataset(folder, store, embedder, facts)
        finally:
            store.close()


def evaluate_dataset(
    folder: Path,
    embedder: Embedder,
    chunker: Chunker,
    retrieval: Retrieval,
    progress: Progress = _no_progress,
) -> dict[str, Any]:
    """nDCG@10, recall@10, recall@100 and MRR@10 of the test split under `retrieval`, plus timing figures."""
    with indexed_dataset(folder, embedder, chunker, progress) as dataset:
        return dataset.evaluate(retrieval, progress)
