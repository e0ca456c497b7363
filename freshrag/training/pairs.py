"""Training pairs (query, passage) for the embedding model, from three sources:

- feedback: what users said was relevant (`POST /feedback`). The passage is the chunk of the judged document
  that the live model finds closest to the query, as the model sees it at indexing time (title and heading
  path first). The latest judgement of a (query, document) wins, so "not relevant" withdraws a "relevant".
- corpus: self-supervised pairs that need no labels: a section's heading to the section's text, a
  document's title to its first passage. The anchor is left out of the passage, or the pair would teach
  nothing but copying.
- llm: a question an LLM wrote for a passage (optional, `FRESHRAG_FINETUNE_LLM_QUERIES`).

Queries of the golden set are never trained on: the gate must judge on queries the model has not seen.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from freshrag.embedding import Embedder
from freshrag.state.feedback import Feedback
from freshrag.store import Store

FEEDBACK, CORPUS, LLM = "feedback", "corpus", "llm"
_MIN_ANCHOR, _MAX_ANCHOR = 3, 200
_MIN_PASSAGE = 40

EmbedText = Callable[[str, tuple[str, ...], str], str]


@dataclass(frozen=True)
class Pair:
    anchor: str
    positive: str
    source: str


def normalise(query: str) -> str:
    return " ".join(query.lower().split())


def latest_relevant(entries: Iterable[Feedback], exclude: set[str]) -> list[tuple[str, str]]:
    """The (query, doc_id) judged relevant by their latest judgement, newest first; queries in `exclude`
    (normalised) left out."""
    verdicts: dict[tuple[str, str], tuple[bool, str]] = {}
    for entry in entries:  # oldest first: a later judgement overwrites an earlier one
        key = (normalise(entry.query), entry.doc_id)
        verdicts.pop(key, None)
        verdicts[key] = (entry.relevant, entry.query.strip())
    newest_first = reversed(list(verdicts.items()))
    return [(query, doc) for (norm, doc), (ok, query) in newest_first if ok and norm not in exclude]


def feedback_pairs(
    judged: list[tuple[str, str]],
    store: Store,
    collection: str,
    embedder: Embedder,
    embed_text: EmbedText,
) -> list[Pair]:
    """For each (query, doc_id), the document's chunk nearest to the query under the live model."""
    records = store.get_records(sorted({doc for _, doc in judged}))
    chunk_ids = [point for record in records.values() for point in record.chunk_ids]
    chunks = store.chunk_vectors(chunk_ids, collection)
    by_doc: dict[str, list[tuple[dict[str, Any], np.ndarray]]] = {}
    for payload, vector in chunks.values():
        by_doc.setdefault(str(payload.get("doc_id")), []).append((payload, vector))
    usable = [(query, doc) for query, doc in judged if by_doc.get(doc)]
    if not usable:
        return []
    queries = embedder.embed([query for query, _ in usable])
    pairs = []
    for (query, doc), vector in zip(usable, queries, strict=True):
        candidates = by_doc[doc]
        best = int(np.argmax(np.stack([v for _, v in candidates]) @ vector))
        payload = candidates[best][0]
        passage = embed_text(payload.get("title", ""), tuple(payload.get("heading", [])), payload["text"])
        pairs.append(Pair(query, passage, FEEDBACK))
    return pairs


def corpus_pairs(payloads: Iterable[dict[str, Any]], limit: int, seed: int = 0) -> list[Pair]:
    """Up to `limit` heading-to-section and title-to-text pairs, one per section, drawn at random."""
    if limit <= 0:
        return []
    candidates: dict[tuple[str, str], Pair] = {}
    for payload in payloads:
        if payload.get("source_kind") == "canary":
            continue
        text = str(payload.get("text", "")).strip()
        heading = [h for h in payload.get("heading", []) if h]
        title = str(payload.get("title", "")).strip()
        anchor = heading[-1].strip() if heading else title
        if not (_MIN_ANCHOR <= len(anchor) <= _MAX_ANCHOR):
            continue
        text = _without_anchor(text, anchor)  # a passage that repeats its heading would teach copying
        if len(text) < _MIN_PASSAGE:
            continue
        key = (str(payload.get("doc_id")), anchor)
        candidates.setdefault(key, Pair(anchor, text, CORPUS))  # the section's first passage
    pairs = sorted(candidates.values(), key=lambda pair: (pair.anchor, pair.positive))
    random.Random(seed).shuffle(pairs)
    return pairs[:limit]


def _without_anchor(text: str, anchor: str) -> str:
    """`text` less a leading `anchor` (whole words, whatever the case and the spacing), stripped."""
    words = r"\s+".join(re.escape(word) for word in anchor.split())
    found = re.match(rf"{words}(?!\w)", text, re.IGNORECASE)
    return text[found.end() :].strip() if found else text


def sample_passages(payloads: Iterable[dict[str, Any]], limit: int, seed: int = 0) -> list[str]:
    """Up to `limit` passages (reservoir sampling), for an LLM to write questions about."""
    rng = random.Random(seed)
    chosen: list[str] = []
    for seen, payload in enumerate(p for p in payloads if p.get("source_kind") != "canary"):
        text = str(payload.get("text", "")).strip()
        if len(text) < _MIN_PASSAGE:
            continue
        if len(chosen) < limit:
            chosen.append(text)
        else:
            slot = rng.randint(0, seen)
            if slot < limit:
                chosen[slot] = text
    return chosen
