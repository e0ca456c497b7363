"""Retrieval quality on a BEIR-layout dataset: loading it and scoring rankings (nDCG, recall, MRR)."""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

Qrels = dict[str, dict[str, int]]
Rankings = dict[str, list[str]]


@dataclass(frozen=True)
class CorpusDoc:
    doc_id: str
    title: str
    text: str


class DatasetError(ValueError):
    """The dataset folder is not in BEIR layout; the message names the missing or bad file."""


def read_corpus(folder: Path) -> Iterator[CorpusDoc]:
    path = folder / "corpus.jsonl"
    if not path.is_file():
        raise DatasetError(f"{path} is missing (BEIR layout: corpus.jsonl, queries.jsonl, qrels/test.tsv)")
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                yield CorpusDoc(str(row["_id"]), str(row.get("title") or ""), str(row.get("text") or ""))
            except (json.JSONDecodeError, KeyError) as exc:
                raise DatasetError(f"{path}:{number}: not a corpus row ({exc})") from None


def read_queries(folder: Path) -> dict[str, str]:
    path = folder / "queries.jsonl"
    if not path.is_file():
        raise DatasetError(f"{path} is missing")
    queries = {}
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                row = json.loads(line)
                queries[str(row["_id"])] = str(row["text"])
    return queries


def read_qrels(folder: Path, split: str = "test") -> Qrels:
    path = folder / "qrels" / f"{split}.tsv"
    if not path.is_file():
        raise DatasetError(f"{path} is missing")
    qrels: Qrels = {}
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.reader(handle, delimiter="\t"):
            if len(row) < 3 or not row[2].strip().lstrip("-").isdigit():
                continue  # the header, or a blank line
            qrels.setdefault(row[0], {})[row[1]] = int(row[2])
    return qrels


def ndcg_at(ranked: list[str], relevant: dict[str, int], k: int) -> float:
    """nDCG@k as pytrec_eval (trec_eval), BEIR and MTEB compute it: linear gains (the grade itself), so the
    figures compare with published tables on graded judgments too."""
    gains = sum(max(relevant.get(doc, 0), 0) / math.log2(rank + 2) for rank, doc in enumerate(ranked[:k]))
    ideal = sorted((grade for grade in relevant.values() if grade > 0), reverse=True)[:k]
    best = sum(grade / math.log2(rank + 2) for rank, grade in enumerate(ideal))
    return gains / best if best > 0 else 0.0


def recall_at(ranked: list[str], relevant: dict[str, int], k: int) -> float:
    wanted = {doc for doc, grade in relevant.items() if grade > 0}
    return len(wanted & set(ranked[:k])) / len(wanted) if wanted else 0.0


def mrr_at(ranked: list[str], relevant: dict[str, int], k: int) -> float:
    for rank, doc in enumerate(ranked[:k]):
        if relevant.get(doc, 0) > 0:
            return 1.0 / (rank + 1)
    return 0.0


def score(rankings: Rankings, qrels: Qrels) -> dict[str, float]:
    """Mean nDCG@10, recall@10, recall@100 and MRR@10 over the judged queries (unanswered ones count 0)."""
    judged = [query for query, relevant in qrels.items() if any(g > 0 for g in relevant.values())]
    if not judged:
        raise DatasetError("the qrels judge no document relevant")
    totals = {"ndcg_at_10": 0.0, "recall_at_10": 0.0, "recall_at_100": 0.0, "mrr_at_10": 0.0}
    for query in judged:
        ranked, relevant = rankings.get(query, []), qrels[query]
        totals["ndcg_at_10"] += ndcg_at(ranked, relevant, 10)
        totals["recall_at_10"] += recall_at(ranked, relevant, 10)
        totals["recall_at_100"] += recall_at(ranked, relevant, 100)
        totals["mrr_at_10"] += mrr_at(ranked, relevant, 10)
    return {name: round(value / len(judged), 4) for name, value in totals.items()}
