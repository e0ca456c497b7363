import pytest

from freshrag.evaluation import mrr_at, ndcg_at, recall_at, score


def test_metrics_on_a_hand_computed_ranking() -> None:
    relevant = {"a": 1, "b": 1}
    ranked = ["x", "a", "y", "b"]
    assert mrr_at(ranked, relevant, 10) == 0.5
    assert recall_at(ranked, relevant, 2) == 0.5
    ideal = 1 + 1 / 1.584962500721156
    assert ndcg_at(ranked, relevant, 10) == pytest.approx(
        (1 / 1.584962500721156 + 1 / 2.321928094887362) / ideal
    )


def test_unanswered_queries_count_as_zero() -> None:
    result = score({"q1": ["a"]}, {"q1": {"a": 1}, "q2": {"b": 1}})
    assert result["ndcg_at_10"] == 0.5
    assert result["recall_at_100"] == 0.5
