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


def fuse_scores(
    cosines: dict[str, float], keyword: dict[str, float], weights: tuple[float, float], limit: int
) -> list[tuple[str, float]]:
    """The best `limit` (point id, fused score) pairs. `cosines` holds every candidate's cosine to the
    query (from the dense list, or computed from its stored vector); `keyword` the keyword list's BM25."""
    best_keyword = max(keyword.values(), default=0.0)
    scored = [
        (
            point_id,
            weights[0] * max(cosine, 0.0)
            + (weights[1] * keyword.get(point_id, 0.0) / best_keyword if best_keyword > 0 else 0.0),
        )
        for point_id, cosine in cosines.items()
    ]
    scored.sort(key=lambda pair: (-pair[1], pair[0]))
    return scored[:limit]


def fuse(
    query: np.ndarray, dense: list[Hit], keyword: list[Hit], weights: tuple[float, float], limit: int
) -> list[Hit]:
    """The best `limit` of the union of `dense` and `keyword`, for hits that carry their unit-length dense
    vectors. `query` need not be unit-length: it is normalised here, as the engine normalises it."""
    norm = float(np.linalg.norm(query))
    query = query / norm if norm > 0 else query
    candidates = {hit.id: hit for hit in [*keyword, *dense]}
    cosines = {
        point_id: float(np.dot(query, hit.dense)) if hit.dense is not None else 0.0
        for point_id, hit in candidates.items()
    }
    fused = fuse_scores(cosines, {hit.id: hit.score for hit in keyword}, weights, limit)
    return [
        Hit(
            id=point_id,
            score=score,
            payload=candidates[point_id].payload,
            dense=candidates[point_id].dense,
            similarity=cosines[point_id],
        )
        for point_id, score in fused
    ]
