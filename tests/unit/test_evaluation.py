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


def test_ndcg_uses_linear_gains_as_pytrec_eval_does() -> None:
    import pytrec_eval

    qrels = {"q1": {"a": 2, "b": 1, "c": 1}, "q2": {"d": 2, "e": 1}, "q3": {"f": 1}}
    rankings = {"q1": ["b", "x", "a", "c"], "q2": ["e", "y", "z", "d"], "q3": ["g", "f"]}
    run = {q: {doc: float(len(docs) - rank) for rank, doc in enumerate(docs)} for q, docs in rankings.items()}
    per_query = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10"}).evaluate(run)
    expected = sum(values["ndcg_cut_10"] for values in per_query.values()) / len(per_query)
    assert score(rankings, qrels)["ndcg_at_10"] == pytest.approx(expected, abs=1e-4)
    exponential = (1 / 1 + 3 / 2.0 + 1 / 2.321928094887362) / (3 + 1 / 1.584962500721156 + 1 / 2)
    assert ndcg_at(rankings["q1"], qrels["q1"], 10) != pytest.approx(exponential, abs=1e-3)
