"""The evaluation gate: a candidate model goes live only when the golden set says it is better.

Better means nDCG@10 improves by at least `margin`, and no metric (nDCG@10, recall@10, MRR@10) drops by more
than `tolerance`; both models are measured on the same golden set, against their own collections, at the
same moment.
"""

from __future__ import annotations

from dataclasses import dataclass

from freshrag.state.registry import METRIC_NAMES

_LABELS = {"ndcg_at_10": "nDCG@10", "recall_at_10": "recall@10", "mrr_at_10": "MRR@10"}
# Metrics are rounded to 6 decimals: below this, a difference is float subtraction's error, not a change
# (0.563 - 0.558 is 0.00499999..., which must still meet a margin of 0.005).
_EPSILON = 1e-9


@dataclass(frozen=True)
class Verdict:
    promote: bool
    reason: str


def judge(candidate: dict[str, float], live: dict[str, float], margin: float, tolerance: float) -> Verdict:
    """Whether `candidate` may replace `live`, and why, in words an operator reads in `models list`."""
    drops = [
        f"{_LABELS[name]} {live[name]:.4f} -> {candidate[name]:.4f}"
        for name in METRIC_NAMES
        if live[name] - candidate[name] > tolerance + _EPSILON
    ]
    if drops:
        return Verdict(False, f"dropped beyond the tolerance {tolerance}: {', '.join(drops)}")
    gain = candidate["ndcg_at_10"] - live["ndcg_at_10"]
    change = f"nDCG@10 {live['ndcg_at_10']:.4f} -> {candidate['ndcg_at_10']:.4f} ({gain:+.4f})"
    if gain < margin - _EPSILON:
        return Verdict(False, f"{change}: short of the margin {margin}")
    return Verdict(True, f"{change}: at least the margin {margin}")
