"""Retrieval quality of the live index on a golden set (BEIR layout: queries.jsonl, qrels/test.tsv).

A judgment names a document by its `doc_id`, or, for a file, by its path relative to its watched folder
(`guides/install.md`), so a golden set can be written without knowing freshrag's ids. Rankings come from the
live index with the live model, exactly as `/search` ranks; the canary is never among them.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from freshrag.documents import file_doc_id, root_key
from freshrag.embedding import Embedder
from freshrag.evaluation import Qrels, read_qrels, read_queries, score
from freshrag.ranking import rank_documents
from freshrag.retrieval import DEFAULT_RETRIEVAL, Retrieval
from freshrag.sources import WatchedFolder
from freshrag.store import Store

QUALITY_RESULT = "quality:last"
METRICS = ("ndcg_at_10", "recall_at_10", "mrr_at_10")
# Several chunks of one document can rank high: fetch enough chunks to fill the top documents.
_CHUNKS_PER_QUERY = 100


@dataclass(frozen=True)
class Quality:
    eval_set: str
    ndcg_at_10: float
    recall_at_10: float
    mrr_at_10: float
    queries: int
    unresolved: int  # judged documents the index does not know (not indexed, or a wrong path)
    model_version: str
    at: float
    seconds: float
    baseline: dict[str, float]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def golden_set_name(folder: Path) -> str:
    return folder.resolve().name


def resolve_judgments(qrels: Qrels, store: Store, folders: list[WatchedFolder]) -> tuple[Qrels, int]:
    """Translate each judged document to the `doc_id` the index knows it by; count those it does not."""
    names = {name for judged in qrels.values() for name in judged}
    candidates = {
        name: [name] + [file_doc_id(root_key(f.path), name.lstrip("/"), f.kind) for f in folders]
        for name in names
    }
    known = store.get_records([doc_id for options in candidates.values() for doc_id in options])
    resolved = {
        name: next((doc_id for doc_id in options if doc_id in known), name)
        for name, options in candidates.items()
    }
    unresolved = sum(1 for name in names if resolved[name] not in known)
    translated = {
        query: {resolved[name]: grade for name, grade in judged.items()} for query, judged in qrels.items()
    }
    return translated, unresolved


def evaluate_golden_set(
    folder: Path,
    store: Store,
    embedder: Embedder,
    folders: list[WatchedFolder],
    baseline: dict[str, float] | None,
    collection: str | None = None,
    retrieval: Retrieval = DEFAULT_RETRIEVAL,
) -> Quality:
    """Score the index (the live collection, or `collection` embedded by `embedder`) on the golden set at
    `folder` under `retrieval`; `baseline` None takes this run as the baseline."""
    started = time.perf_counter()
    queries = read_queries(folder)
    qrels, unresolved = resolve_judgments(read_qrels(folder, "test"), store, folders)
    judged = [query_id for query_id in qrels if query_id in queries]
    rankings = rank_documents(
        store,
        embedder,
        {query_id: queries[query_id] for query_id in judged},
        retrieval,
        collection,
        chunks=_CHUNKS_PER_QUERY,
    )
    scores = score(rankings, {query_id: qrels[query_id] for query_id in judged})
    measured = {name: scores[name] for name in METRICS}
    return Quality(
        eval_set=golden_set_name(folder),
        queries=len(judged),
        unresolved=unresolved,
        model_version=embedder.model_version,
        at=time.time(),
        seconds=round(time.perf_counter() - started, 3),
        baseline=baseline if baseline is not None else measured,
        **measured,
    )


def baseline_key(eval_set: str, model_version: str) -> str:
    return f"quality:baseline:{eval_set}:{model_version}"
