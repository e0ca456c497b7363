"""The RAG-or-fine-tune framework on chosen figures: fresh knowledge points to RAG, volume and a fine-tuned
model that gained to both, static knowledge at high volume without cited answers to fine-tuning alone, and
too little data is said plainly."""

from __future__ import annotations

from dataclasses import replace

from freshrag.advice.framework import Figures, advise

ESTABLISHED = Figures(
    now=1_800_000_000.0,
    history_days=90.0,
    documents=400,
    changed_7d=30,
    changed_30d=120,
    live_changes_per_day=6.5,
    queries_per_day=300.0,
    queries_seen=1000,
    gap_rate=0.08,
    answers_seen=500,
    answer_outcomes={"answered": 460, "no_information": 40},
    ndcg_at_10=0.71,
    ndcg_baseline=0.70,
    finetune_runs=0,
    finetune_promoted=0,
    finetune_best_gain=None,
    answer_model_fine_tuned=False,
    curated_examples=None,
    prompt_tokens_per_answer=1200.0,
    completion_tokens_per_answer=80.0,
    cost_per_answer=0.00023,
    embedding_cost_per_change=None,
)


def points(figures: Figures) -> dict[str, str | None]:
    return {finding.question: finding.points_to for finding in advise(figures).findings}


def test_knowledge_that_changes_weekly_at_modest_volume_is_rag() -> None:
    advice = advise(ESTABLISHED)
    assert (advice.recommendation, advice.confident) == ("rag", True)
    change = advice.findings[0]
    assert change.points_to == "rag"
    assert "8% of 400 documents changed in the last 7 days, 30% in the last 30" in change.figure
    assert "6.5 live changes a day" in change.figure
    assert points(ESTABLISHED)["How many queries?"] == "rag"
    assert advice.notes == ["An answer costs about $0.00023 (tokens times FRESHRAG_PRICE_*)."]


def test_high_volume_or_a_fine_tune_that_gained_is_both() -> None:
    busy = replace(ESTABLISHED, queries_per_day=5000.0)
    assert advise(busy).recommendation == "both"
    assert "about 150,000 a month" in advise(busy).findings[2].figure
    tuned = replace(ESTABLISHED, finetune_runs=3, finetune_promoted=1, finetune_best_gain=0.021)
    assert advise(tuned).recommendation == "both"
    assert "3 retrieval fine-tunes finished, 1 promoted, best gain +0.021" in advise(tuned).findings[4].figure
    styled = replace(ESTABLISHED, answer_model_fine_tuned=True, curated_examples=600)
    assert advise(styled).recommendation == "both"


def test_static_knowledge_at_high_volume_without_cited_answers_is_fine_tuning() -> None:
    static = replace(
        ESTABLISHED,
        changed_7d=0,
        changed_30d=0,
        live_changes_per_day=None,
        queries_per_day=5000.0,
        answers_seen=0,
    )
    assert advise(static).recommendation == "fine-tuning"
    assert advise(replace(static, answers_seen=10)).recommendation == "both"  # cited answers keep RAG


def test_many_knowledge_gaps_call_for_content_and_weak_retrieval_for_retrieval_work() -> None:
    gaps = advise(replace(ESTABLISHED, gap_rate=0.35)).findings[3]
    assert gaps.points_to == "rag"
    assert "35% of recent queries were knowledge gaps: add the missing documents" in gaps.figure
    weak = advise(replace(ESTABLISHED, ndcg_at_10=0.31)).findings[4]
    assert "weak retrieval caps answer quality" in weak.figure


def test_too_little_data_is_said_plainly_and_the_default_is_rag() -> None:
    new = replace(
        ESTABLISHED, history_days=0.2, queries_seen=4, queries_per_day=20.0, gap_rate=0.5, ndcg_at_10=None
    )
    advice = advise(new)
    assert (advice.recommendation, advice.confident) == ("rag", False)
    assert advice.summary.startswith(
        "Too little data to be sure (How often does the knowledge change?; How many"
    )
    assert "Start with RAG" in advice.summary
    assert [finding.thin for finding in advice.findings] == [True, False, True, True, True, False]
    assert advice.to_json()["figures"]["history_days"] == 0.2
