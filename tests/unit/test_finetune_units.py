"""The pure parts of fine-tuning: the evaluation gate, the training pairs (feedback and corpus), the stored
form of a model run, and the schedule and routing of the training tasks."""

from __future__ import annotations

import json
import os
import random
from typing import Any

import pytest
from celery.schedules import crontab

from freshrag.queue import (
    FINETUNE,
    FINETUNE_CHECK,
    INDEX_DOCUMENT,
    INDEXING_QUEUE,
    POLL_OPENAI_JOBS,
    SWITCH_MODEL,
    TRAINING_QUEUE,
    beat_schedule,
    celery_config,
    make_client,
)
from freshrag.settings import Settings, SettingsError, load_settings
from freshrag.state.feedback import Feedback
from freshrag.state.registry import Backend, ModelRun, RunStatus
from freshrag.training.gate import judge
from freshrag.training.pairs import (
    CORPUS,
    Pair,
    corpus_pairs,
    latest_relevant,
    normalise,
    sample_passages,
)

AT = 1_700_000_000.0


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings come from the tests alone, not from the developer's FRESHRAG_* variables or freshrag.toml."""
    for name in [name for name in os.environ if name.startswith("FRESHRAG_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("FRESHRAG_CONFIG", "/nonexistent/freshrag.toml")


def settings(**overrides: Any) -> Settings:
    return load_settings(**overrides)


# The gate


def metrics(ndcg: float, recall: float, mrr: float) -> dict[str, float]:
    return {"ndcg_at_10": ndcg, "recall_at_10": recall, "mrr_at_10": mrr}


LIVE = metrics(0.6, 0.8, 0.55)


def test_a_candidate_better_by_the_margin_is_promoted() -> None:
    verdict = judge(metrics(0.62, 0.8, 0.55), LIVE, margin=0.005, tolerance=0.01)
    assert verdict.promote
    assert "nDCG@10 0.6000 -> 0.6200 (+0.0200)" in verdict.reason


def test_a_candidate_short_of_the_margin_is_rejected() -> None:
    verdict = judge(metrics(0.603, 0.9, 0.7), LIVE, margin=0.005, tolerance=0.01)
    assert not verdict.promote
    assert "short of the margin 0.005" in verdict.reason
    assert "nDCG@10 0.6000 -> 0.6030" in verdict.reason


@pytest.mark.parametrize(("live", "candidate"), [(0.5, 0.505), (0.558, 0.563), (0.013, 0.018)])
def test_a_gain_of_exactly_the_margin_is_promoted(live: float, candidate: float) -> None:
    """Metrics are rounded to 6 decimals; float subtraction must not turn +0.0050 into "short of 0.005"."""
    verdict = judge(metrics(candidate, 0.8, 0.55), metrics(live, 0.8, 0.55), margin=0.005, tolerance=0.01)
    assert verdict.promote, verdict.reason


@pytest.mark.parametrize(
    ("candidate", "named"),
    [
        (metrics(0.7, 0.78, 0.55), "recall@10 0.8000 -> 0.7800"),
        (metrics(0.7, 0.8, 0.5), "MRR@10 0.5500 -> 0.5000"),
    ],
)
def test_a_metric_dropping_beyond_the_tolerance_rejects_even_a_big_gain(
    candidate: dict[str, float], named: str
) -> None:
    verdict = judge(candidate, LIVE, margin=0.005, tolerance=0.01)
    assert not verdict.promote
    assert "dropped beyond the tolerance 0.01" in verdict.reason
    assert named in verdict.reason


@pytest.mark.parametrize(("live", "candidate"), [(0.8, 0.79), (0.017, 0.007), (0.029, 0.019)])
def test_a_drop_of_exactly_the_tolerance_is_allowed(live: float, candidate: float) -> None:
    verdict = judge(metrics(0.7, candidate, 0.55), metrics(0.6, live, 0.55), margin=0.005, tolerance=0.01)
    assert verdict.promote, verdict.reason


def test_every_metric_that_dropped_is_named() -> None:
    verdict = judge(metrics(0.5, 0.7, 0.4), LIVE, margin=0.005, tolerance=0.01)
    assert not verdict.promote
    for label in ("nDCG@10", "recall@10", "MRR@10"):
        assert label in verdict.reason


# Feedback pairs


def fb(query: str, doc_id: str, relevant: bool = True) -> Feedback:
    return Feedback(query, doc_id, relevant, AT)


def test_the_latest_judgement_of_a_query_and_document_wins() -> None:
    entries = [fb("reset password", "doc-a", False), fb(" Reset  Password ", "doc-a", True)]
    assert latest_relevant(entries, set()) == [("Reset  Password", "doc-a")]


def test_not_relevant_withdraws_an_earlier_relevant() -> None:
    entries = [fb("reset password", "doc-a"), fb("other", "doc-b"), fb("RESET password", "doc-a", False)]
    assert latest_relevant(entries, set()) == [("other", "doc-b")]


def test_pairs_are_newest_first_and_a_judgement_given_again_counts_as_new() -> None:
    entries = [fb("q1", "doc-a"), fb("q2", "doc-b"), fb("q3", "doc-c")]
    assert latest_relevant(entries, set()) == [("q3", "doc-c"), ("q2", "doc-b"), ("q1", "doc-a")]
    assert latest_relevant([*entries, fb("Q1", "doc-a")], set()) == [
        ("Q1", "doc-a"),
        ("q3", "doc-c"),
        ("q2", "doc-b"),
    ]


def test_one_query_judged_on_two_documents_gives_two_pairs() -> None:
    entries = [fb("refunds", "doc-a"), fb("refunds", "doc-b"), fb("refunds", "doc-a", False)]
    assert latest_relevant(entries, set()) == [("refunds", "doc-b")]


def test_golden_queries_are_never_trained_on_whatever_their_case_and_spacing() -> None:
    golden = {normalise("How do I reset my password?")}
    entries = [fb("how do i  RESET my password?\n", "doc-a"), fb("how do I reset my token?", "doc-b")]
    assert latest_relevant(entries, golden) == [("how do I reset my token?", "doc-b")]


# Corpus pairs

BODY = "Run the installer, then start the service with one command and open the status page."


def chunk(
    doc: str, text: str, heading: list[str] | None = None, title: str = "Guide", **extra: Any
) -> dict[str, Any]:
    return {"doc_id": doc, "title": title, "heading": heading or [], "text": text, **extra}


def test_a_heading_is_paired_with_its_section_and_a_title_with_its_text() -> None:
    refunds = "Money goes back within thirty days of the request, to the card that paid."
    payloads = [
        chunk("doc-a", BODY, ["Guide", "Installing the service"]),
        chunk("doc-b", refunds, [], "Refunds"),
    ]
    assert sorted(corpus_pairs(payloads, 10), key=lambda pair: pair.anchor) == [
        Pair("Installing the service", BODY, CORPUS),
        Pair("Refunds", refunds, CORPUS),
    ]


def test_the_anchor_is_stripped_from_a_passage_that_starts_with_it() -> None:
    payloads = [chunk("doc-a", f"installing  THE service\n{BODY}", ["Installing the service"])]
    assert corpus_pairs(payloads, 10) == [Pair("Installing the service", BODY, CORPUS)]


def test_an_anchor_that_only_begins_a_word_is_not_stripped() -> None:
    """refund.txt (its title "refund") starts "Refunds are paid...": the passage keeps its first word."""
    text = "Refunds are paid within thirty days of the request, to the original card."
    assert corpus_pairs([chunk("file:refund.txt", text, [], "refund")], 10) == [Pair("refund", text, CORPUS)]


def test_a_passage_left_too_short_once_its_anchor_is_stripped_is_skipped() -> None:
    title = "The complete guide to refunds for customers of the shop"
    payloads = [
        chunk("doc-a", title, [], title),  # a document that is only its title: nothing to learn
        chunk("doc-b", f"{title}\nPaid in 30 days.", [], title),
    ]
    assert corpus_pairs(payloads, 10) == []


def test_canary_chunks_and_too_short_passages_or_anchors_are_skipped() -> None:
    payloads = [
        chunk("canary:probe", BODY, ["Canary section"], source_kind="canary"),
        chunk("doc-a", "Too short to teach anything.", ["Short section"]),
        chunk("doc-b", BODY, ["QA"]),  # an anchor of 2 characters
        chunk("doc-c", BODY, ["x" * 201]),
        chunk("doc-d", BODY, ["Kept section"], source_kind="file"),
    ]
    assert corpus_pairs(payloads, 10) == [Pair("Kept section", BODY, CORPUS)]


def test_one_pair_per_document_and_heading_from_the_sections_first_passage() -> None:
    payloads = [
        chunk("doc-a", BODY, ["Setup"]),
        chunk("doc-a", "A second passage of the same section, long enough to count as one.", ["Setup"]),
        chunk("doc-b", "The same heading in another document is another section entirely.", ["Setup"]),
    ]
    pairs = corpus_pairs(payloads, 10)
    assert sorted(pair.positive for pair in pairs) == sorted([BODY, payloads[2]["text"]])


def many_sections(count: int = 30) -> list[dict[str, Any]]:
    return [chunk(f"doc-{i}", f"{BODY} Section number {i}.", [f"Section {i}"]) for i in range(count)]


def test_pairs_are_drawn_at_random_but_the_same_for_a_seed_whatever_the_index_order() -> None:
    payloads = many_sections()
    first = corpus_pairs(payloads, 30, seed=7)
    shuffled = payloads[:]
    random.Random(1).shuffle(shuffled)
    assert corpus_pairs(shuffled, 30, seed=7) == first
    assert corpus_pairs(payloads, 30, seed=8) != first
    assert sorted(first, key=lambda pair: pair.anchor) == sorted(
        corpus_pairs(payloads, 30, seed=8), key=lambda pair: pair.anchor
    )


@pytest.mark.parametrize(("limit", "expected"), [(0, 0), (-1, 0), (5, 5), (30, 30), (100, 30)])
def test_the_limit_is_respected(limit: int, expected: int) -> None:
    pairs = corpus_pairs(many_sections(), limit, seed=3)
    assert len(pairs) == expected
    assert pairs == corpus_pairs(many_sections(), 30, seed=3)[:expected]


def test_passages_for_llm_questions_skip_canaries_and_short_ones_and_respect_the_limit() -> None:
    payloads = [*many_sections(20), chunk("canary:probe", BODY + " canary", source_kind="canary")]
    payloads.append(chunk("doc-short", "Short."))
    sampled = sample_passages(payloads, 5, seed=2)
    assert len(sampled) == 5
    assert len(set(sampled)) == 5
    assert all(text.startswith(BODY) and "canary" not in text for text in sampled)
    assert sample_passages(payloads, 5, seed=2) == sampled
    assert sample_passages(payloads, 0) == []
    assert len(sample_passages(payloads, 50)) == 20


# The stored form of a run


def full_run() -> ModelRun:
    return ModelRun(
        version="all-MiniLM-L6-v2-ft-20250101-030000",
        backend=Backend.LOCAL,
        status=RunStatus.REJECTED,
        created_at=AT + 0.25,
        base_model="all-MiniLM-L6-v2",
        parent="all-MiniLM-L6-v2",
        path="/data/finetuned/v1",
        collection="chunks-v1",
        metrics={"ndcg_at_10": 0.61, "recall_at_10": 0.8, "mrr_at_10": 0.5},
        baseline_metrics={"ndcg_at_10": 0.6, "recall_at_10": 0.8, "mrr_at_10": 0.5},
        pairs=120,
        pair_sources={"feedback": 20, "corpus": 100, "llm": 0},
        duration_s=12.5,
        timings={"training": 8.0, "evaluation": 1.5},
        loss=0.42,
        trigger="requested",
        reason="nDCG@10 0.6000 -> 0.6100 (+0.0100): short of the margin 0.02",
        stage="",
        progress={"stage": "evaluating", "done": 3, "total": 3},
        promoted_at=None,
        retired_at=AT + 5,
        job={"job_id": "ftjob-1", "status": "running"},
        fine_tuned_model="ft:gpt-4o-mini:freshrag:x",
    )


def test_a_run_round_trips_through_its_stored_form() -> None:
    run = full_run()
    stored = json.loads(json.dumps(run.to_json()))
    assert stored["backend"] == "local"
    assert stored["status"] == "rejected"
    again = ModelRun.from_json(stored)
    assert again == run
    assert again.backend is Backend.LOCAL
    assert again.status is RunStatus.REJECTED


def test_a_stored_run_with_unknown_keys_or_missing_optional_ones_still_reads() -> None:
    """A registry written by a newer or an older freshrag."""
    stored = {
        "version": "v2",
        "backend": "openai",
        "status": "candidate",
        "created_at": AT,
        "base_model": "gpt-4o-mini-2024-07-18",
        "added_by_a_newer_release": {"x": 1},
    }
    run = ModelRun.from_json(stored)
    assert (run.version, run.backend, run.status) == ("v2", Backend.OPENAI, RunStatus.CANDIDATE)
    assert (run.pairs, run.pair_sources, run.job, run.fine_tuned_model) == (0, {}, None, None)


# The schedule and the routes of the training tasks


def test_the_default_fine_tune_check_runs_weekly_on_sunday_at_three() -> None:
    entry = beat_schedule(settings())["finetune-check"]
    assert entry["task"] == FINETUNE_CHECK
    assert entry["options"]["expires"] > 0
    schedule = entry["schedule"]
    assert isinstance(schedule, crontab)
    assert (schedule.minute, schedule.hour, schedule.day_of_week) == ({0}, {3}, {0})
    assert schedule.day_of_month == set(range(1, 32))
    assert schedule.month_of_year == set(range(1, 13))
    assert schedule == crontab(minute=0, hour=3, day_of_week="sunday")


def test_each_cron_field_lands_in_its_place(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRESHRAG_FINETUNE_SCHEDULE", " 30 4 1 6 * ")  # 04:30 on the 1st of June
    schedule = beat_schedule(settings())["finetune-check"]["schedule"]
    assert (schedule.minute, schedule.hour, schedule.day_of_month, schedule.month_of_year) == (
        {30},
        {4},
        {1},
        {6},
    )
    assert schedule.day_of_week == set(range(7))


@pytest.mark.parametrize("value", ["", "   "])
def test_an_empty_schedule_turns_the_fine_tune_check_off(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("FRESHRAG_FINETUNE_SCHEDULE", value)
    loaded = settings()
    assert loaded.finetune_schedule == ""
    schedule = beat_schedule(loaded)
    assert "finetune-check" not in schedule
    assert all(entry["task"] != FINETUNE_CHECK for entry in schedule.values())


def test_openai_jobs_are_polled_unless_the_interval_is_zero() -> None:
    entry = beat_schedule(settings())["poll-openai-jobs"]
    assert (entry["task"], entry["schedule"], entry["options"]["expires"]) == (POLL_OPENAI_JOBS, 60.0, 60.0)
    assert "poll-openai-jobs" not in beat_schedule(settings(openai_poll_seconds=0))


@pytest.mark.parametrize("value", ["61 * * * *", "* * *", "0 3 * * 0 1", "0 25 * * *", "0 3 * * funday"])
def test_a_bad_cron_names_the_setting(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    with pytest.raises(SettingsError, match="FRESHRAG_FINETUNE_SCHEDULE"):
        settings(finetune_schedule=value)
    monkeypatch.setenv("FRESHRAG_FINETUNE_SCHEDULE", value)
    with pytest.raises(SettingsError, match="FRESHRAG_FINETUNE_SCHEDULE") as raised:
        settings()
    assert value in str(raised.value)


def test_a_cron_with_the_wrong_number_of_fields_says_so() -> None:
    with pytest.raises(SettingsError, match="a cron expression has 5 fields"):
        settings(finetune_schedule="* * *")


@pytest.mark.parametrize("task", [FINETUNE, FINETUNE_CHECK, SWITCH_MODEL, POLL_OPENAI_JOBS])
def test_training_tasks_go_to_the_training_queue(task: str) -> None:
    loaded = settings()
    assert celery_config(loaded)["task_routes"][task] == {"queue": TRAINING_QUEUE}
    # What beat and any sender without an explicit queue get from Celery's router.
    assert make_client(loaded).amqp.router.route({}, task)["queue"].name == TRAINING_QUEUE


def test_indexing_stays_on_the_indexing_queue() -> None:
    loaded = settings()
    assert INDEX_DOCUMENT not in celery_config(loaded)["task_routes"]
    assert make_client(loaded).amqp.router.route({}, INDEX_DOCUMENT)["queue"].name == INDEXING_QUEUE
