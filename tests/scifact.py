"""SciFact (../shared/data/ir/scifact) as a watched folder of Markdown files, with its test judgments as a
golden set (documents named by relative path) and its train judgments as feedback to send. Read from the
shared data at run time; nothing of it is copied into the repository."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SciFactFiles:
    folder: Path  # one Markdown file per document: <id>.md
    golden: Path  # BEIR layout: queries.jsonl, qrels/test.tsv naming <id>.md
    train: list[tuple[str, str]]  # (query text, file name) judged relevant
    test_queries: int


def _judgments(scifact: Path, split: str) -> list[tuple[str, str]]:
    rows = (scifact / "qrels" / f"{split}.tsv").read_text().splitlines()[1:]
    return [(row.split("\t")[0], row.split("\t")[1]) for row in rows if row.strip()]


def write_scifact(
    scifact: Path,
    destination: Path,
    *,
    train_queries: int | None = None,
    test_queries: int | None = None,
    distractors: int = 0,
    seed: int = 0,
    shared_documents: bool = False,
) -> SciFactFiles:
    """The documents judged by the first `train_queries` train and `test_queries` test queries, plus
    `distractors` unjudged ones drawn at random (None: every query). With `shared_documents`, only test
    queries about documents that train queries judge too, and those train queries first: the feedback is
    about the documents the golden set asks for, as when users search what they search."""
    queries = {
        row["_id"]: row["text"]
        for row in map(json.loads, (scifact / "queries.jsonl").read_text().splitlines())
    }
    train, test = _judgments(scifact, "train"), _judgments(scifact, "test")
    if shared_documents:
        trained = {doc for _, doc in train}
        unshared = {query for query, doc in test if doc not in trained}
        test = [(query, doc) for query, doc in test if query not in unshared]
        asked = {doc for _, doc in _first_queries(test, test_queries)}
        train = sorted(train, key=lambda judgment: judgment[1] not in asked)  # stable: file order kept
    train = _first_queries(train, train_queries)
    test = _first_queries(test, test_queries)
    corpus = {row["_id"]: row for row in map(json.loads, (scifact / "corpus.jsonl").read_text().splitlines())}
    judged = {doc for _, doc in train + test}
    others = sorted(set(corpus) - judged)
    chosen = judged | set(random.Random(seed).sample(others, min(distractors, len(others))))
    folder = destination / "docs"
    folder.mkdir(parents=True)
    for doc_id in sorted(chosen):
        row = corpus[doc_id]
        (folder / f"{doc_id}.md").write_text(f"# {row['title']}\n\n{row['text']}\n", encoding="utf-8")
    golden = destination / "golden"
    (golden / "qrels").mkdir(parents=True)
    test_ids = list(dict.fromkeys(query for query, _ in test))
    (golden / "queries.jsonl").write_text(
        "".join(json.dumps({"_id": q, "text": queries[q]}) + "\n" for q in test_ids)
    )
    (golden / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\n" + "".join(f"{q}\t{doc}.md\t1\n" for q, doc in test)
    )
    return SciFactFiles(folder, golden, [(queries[q], f"{doc}.md") for q, doc in train], len(test_ids))


def _first_queries(judgments: list[tuple[str, str]], count: int | None) -> list[tuple[str, str]]:
    if count is None:
        return judgments
    keep = set(list(dict.fromkeys(query for query, _ in judgments))[:count])
    return [(query, doc) for query, doc in judgments if query in keep]
