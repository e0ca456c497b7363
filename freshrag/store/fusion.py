"""Hybrid fusion: one ranking from a dense list and a keyword list, weighted by the scores themselves.

Reciprocal-rank fusion keeps only ranks, so a keyword match far above the rest (an exact identifier such as a
door code, in one note of fifty near-identical ones) counts no more than a near tie among the dense results,
and the right note can lose. Scores keep that margin. Each candidate from either list is scored as

    weights[0] * cosine(query, chunk) + weights[1] * bm25(chunk) / max bm25 of the keyword list

Cosine is already bounded; BM25 is divided by the best keyword score so both terms lie in [0, 1] (the
"theoretical min-max" convex combination, which beat reciprocal-rank fusion in Bruch et al., "An Analysis of
Fusion Functions for Hybrid Retrieval", ACM TOIS 2023). A candidate's cosine is computed from its stored
vector even when only the keyword list found it; a candidate the keyword list did not find scores 0 there.
"""

from __future__ import annotations

import numpy as np

from freshrag.store.interfaces import Hit


def fuse(
    query: np.ndarray, dense: list[Hit], keyword: list[Hit], weights: tuple[float, float], limit: int
) -> list[Hit]:
    """The best `limit` of the union of `dense` and `keyword` (hits carrying their unit-length dense vectors,
    as the engine stores them for cosine). `query` need not be unit-length: it is normalised here, as the
    engine normalises it for the dense search, so the cosine term stays within [-1, 1]."""
    norm = float(np.linalg.norm(query))
    query = query / norm if norm > 0 else query
    best_keyword = max((hit.score for hit in keyword), default=0.0)
    keyword_part = {hit.id: hit.score / best_keyword for hit in keyword} if best_keyword > 0 else {}
    candidates = {hit.id: hit for hit in [*keyword, *dense]}  # the dense hit wins: same point, same payload
    scored = []
    for point_id, hit in candidates.items():
        cosine = float(np.dot(query, hit.dense)) if hit.dense is not None else 0.0
        score = weights[0] * max(cosine, 0.0) + weights[1] * keyword_part.get(point_id, 0.0)
        scored.append(Hit(id=point_id, score=score, payload=hit.payload, dense=hit.dense))
    scored.sort(key=lambda hit: (-hit.score, hit.id))
    return scored[:limit]
