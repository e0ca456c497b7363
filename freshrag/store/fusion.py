"""Hybrid fusion: one ranking from a dense list and a keyword list, weighted by the scores themselves.

Reciprocal-rank fusion keeps only ranks, so a keyword match far above the rest (an exact identifier such as a
door code, in one note of fifty near-identical ones) counts no more than a near tie among the dense results,
and the right note can lose. Scores keep that margin. Each candidate from either list is scored as

    weights[0] * cosine(query, chunk) + weights[1] * bm25(chunk) / max bm25 of the keyword list

Cosine is already bounded; BM25 is divided by the best keyword score so both terms lie in [0, 1] (the
"theoretical min-max" convex combination, which beat reciprocal-rank fusion in Bruch et al., "An Analysis of
Fusion Functions for Hybrid Retrieval", ACM TOIS 2023). A candidate's cosine is scored by the engine even
when only the keyword list found it; a candidate the keyword list did not find scores 0 there.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from freshrag.store.interfaces import Hit

# A hybrid search reads ids first and payloads after; a re-index between the two retries the search (the
# new chunks are written before the old are deleted, so the next read finds the document).
READ_ATTEMPTS = 5

# Point ids are the store's own; `hybrid_search` turns the winners' into strings.
ScoreLists = Callable[[], tuple[dict[Any, float], dict[Any, float]]]
CosineReader = Callable[[list[Any]], dict[Any, float]]
PayloadReader = Callable[[list[Any]], dict[Any, dict[str, Any]]]


def fuse_scores(
    cosines: dict[Any, float], keyword: dict[Any, float], weights: tuple[float, float], limit: int
) -> list[tuple[Any, float]]:
    """The best `limit` (point id, fused score) pairs. `cosines` holds every candidate's cosine to the
    query (from the dense list, or scored for it alone); `keyword` the keyword list's BM25."""
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


def hybrid_search(
    read_lists: ScoreLists,
    read_cosines: CosineReader,
    read_payloads: PayloadReader,
    weights: tuple[float, float],
    limit: int,
) -> list[Hit]:
    """A hybrid search over a store that can read, in this order: both lists as point ids and scores
    (`read_lists`: cosines of the dense list, or of every candidate, and BM25 of the keyword list), the
    cosines of the keyword-only candidates when `read_lists` left any unscored (scored by the engine, so no
    vector crosses into Python), and the payloads of the winners alone (payloads are the costly part of a
    read).
    When a winner vanished between the reads (its document re-indexed), the search reads again; the last
    attempt keeps what it found."""
    for attempt in range(1, READ_ATTEMPTS + 1):
        cosines, keyword = read_lists()
        unscored = [point_id for point_id in keyword if point_id not in cosines]
        if unscored:
            cosines |= read_cosines(unscored)
        fused = fuse_scores(cosines, keyword, weights, limit)
        payloads = read_payloads([point_id for point_id, _ in fused])
        if len(payloads) == len(fused) or attempt == READ_ATTEMPTS:
            return [
                Hit(id=str(point_id), score=score, payload=payloads[point_id], similarity=cosines[point_id])
                for point_id, score in fused
                if point_id in payloads
            ]
    return []
