from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

import pytest

from freshrag.activity import freshness
from freshrag.status import answers_summary
from services.api.status_page import ago, duration, percent, render_status_page, tile_states

NOW = 1763700000.0


class Elements(HTMLParser):
    """The class and the text of every element that has an id (void elements have no text); each tag
    counts as a space, so cells read apart."""

    VOID = frozenset({"meta", "link", "br", "img", "input", "hr"})

    def __init__(self, html: str) -> None:
        super().__init__()
        self.classes: dict[str, list[str]] = {}
        self.texts: dict[str, str] = {}
        self._open: list[str | None] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_data(" ")
        if tag in self.VOID:
            return
        found = dict(attrs)
        element_id = found.get("id")
        if element_id is not None:
            self.classes[element_id] = (found.get("class") or "").split()
            self.texts[element_id] = ""
        self._open.append(element_id)

    def handle_endtag(self, tag: str) -> None:
        if tag not in self.VOID:
            self._open.pop()

    def handle_data(self, data: str) -> None:
        for element_id in self._open:
            if element_id is not None:
                self.texts[element_id] += data

    def text(self, element_id: str) -> str:
        return " ".join(self.texts[element_id].split())


def full_status() -> dict[str, Any]:
    return {
        "now": NOW,
        "mode": "distributed",
        "model_version": "all-MiniLM-L6-v2",
        "documents": {"indexed": 12, "pending": 0, "failed": 1, "skipped": 2, "deleted": 3},
        "chunks": 140,
        "dead_letters": 0,
        "queue_depth": 0,
        "oldest_pending_change_age_seconds": 0.0,
        "watched_folders": ["/srv/inbox"],
        "workers_alive": 2,
        "problems": [
            {
                "doc_id": "file:/srv/inbox/a.pdf",
                "status": "failed",
                "uri": "/srv/inbox/a.pdf",
                "reason": "pdf: encrypted",
                "version": 1,
                "content_hash": None,
                "chunk_count": 0,
                "indexed_at": NOW - 10,
                "source_kind": "file",
            }
        ],
        "problems_by_reason": {"no text": 2, "encrypted": 1},
        "freshness": {
            "changes": 120,
            "p50_seconds": 0.21,
            "p99_seconds": 1.8,
            "within_slo": 0.992,
            "slo_seconds": 60.0,
            "window_seconds": 900.0,
        },
        "backfill": None,
        "recent_changes": [
            {
                "doc_id": "file:/srv/inbox/b.md",
                "uri": "/srv/inbox/b.md",
                "source_kind": "file",
                "op": "upsert",
                "outcome": "indexed",
                "latency_seconds": 0.18,
                "at": NOW - 5,
                "reason": None,
            }
        ],
        "canary": {
            "enabled": True,
            "interval_seconds": 60.0,
            "last": {"outcome": "found", "latency_seconds": 0.35, "at": NOW - 30, "reason": None},
        },
        "drift": {
            "corpus": {"value": 0.012, "threshold": 0.03, "at": NOW - 1000, "sample": 2000},
            "query": None,
        },
        "quality": {
            "eval_set": "golden",
            "ndcg_at_10": 0.71,
            "recall_at_10": 0.83,
            "mrr_at_10": 0.66,
            "queries": 50,
            "at": NOW - 3600,
            "baseline": {"ndcg_at_10": 0.70, "recall_at_10": 0.82, "mrr_at_10": 0.65},
        },
        "search": {
            "mode": "hybrid",
            "weights": [1.0, 1.0],
            "label": "hybrid 1:1",
            "chosen_by": "golden set golden",
            "scores": {"dense": 0.66, "keyword": 0.68, "hybrid 1:1": 0.72},
            "checked_at": NOW - 3600,
            "history": [
                {"at": NOW - 7200, "from": "dense", "to": "hybrid 1:1", "eval_set": "golden", "scores": {}}
            ],
        },
        "knowledge_gaps": [
            {"query": "how do I rotate keys", "top_score": 0.12, "count": 3, "last_seen": NOW - 100}
        ],
    }


def fresh_status() -> dict[str, Any]:
    """A service just started: nothing indexed, no check has run, no golden set."""
    return full_status() | {
        "documents": {"pending": 0},
        "chunks": 0,
        "watched_folders": [],
        "problems": [],
        "problems_by_reason": {},
        "freshness": {
            "changes": 0,
            "p50_seconds": None,
            "p99_seconds": None,
            "within_slo": None,
            "slo_seconds": 60.0,
            "window_seconds": 900.0,
        },
        "recent_changes": [],
        "canary": {"enabled": True, "interval_seconds": 60.0, "last": None},
        "drift": {"corpus": None, "query": None},
        "quality": None,
        "search": {
            "mode": "hybrid",
            "weights": [1.0, 1.0],
            "label": "hybrid 1:1",
            "chosen_by": "default",
            "scores": {},
            "checked_at": None,
            "history": [],
        },
        "knowledge_gaps": [],
    }


SECTIONS = ("changes", "failures", "quality", "drift", "gaps", "documents")
TILES = ("freshness", "backlog", "canary", "workers", "dead-letters")


def test_a_full_status_shows_every_tile_and_section_with_its_values() -> None:
    page = Elements(render_status_page(full_status()))
    assert set(SECTIONS + TILES) <= page.texts.keys()
    assert page.text("overall") == "healthy"
    assert page.text("freshness").endswith(
        "p99 1.8 s p50 210 ms 99.2 % within the 60 s SLO, 120 live changes in the last 15 min"
    )
    assert "0 queued" in page.text("backlog")
    assert "found 30 s ago, took 350 ms" in page.text("canary")
    assert "2 alive" in page.text("workers")
    assert "5 s ago /srv/inbox/b.md file upsert indexed 180 ms" in page.text("changes")
    assert "/srv/inbox/a.pdf failed pdf: encrypted" in page.text("failures")
    assert "By reason: no text 2, encrypted 1" in page.text("failures")
    assert "nDCG@10 0.710 0.700 +0.010" in page.text("quality")
    assert "MRR@10 0.660 0.650 +0.010" in page.text("quality")
    assert "Search ranks by hybrid 1:1 (golden set golden)" in page.text("search-mode")
    assert "dense 0.660, hybrid 1:1 0.720, keyword 0.680" in page.text("search-mode")
    assert "Moved from dense to hybrid 1:1 2 h ago" in page.text("search-mode")
    assert "corpus 0.012 0.030 within 17 min ago" in page.text("drift")
    assert "query not measured yet" in page.text("drift")
    assert "how do I rotate keys 0.120 3 100 s ago" in page.text("gaps")
    assert "indexed 12" in page.text("documents")
    assert "chunks 140" in page.text("documents")
    assert "/srv/inbox" in page.text("documents")


def test_the_header_names_mode_model_and_generated_time() -> None:
    html = render_status_page(full_status())
    assert "distributed" in html
    assert "all-MiniLM-L6-v2" in html
    assert "2025-11-21 04:40:00 UTC" in html


def test_a_fresh_service_shows_the_empty_states() -> None:
    page = Elements(render_status_page(fresh_status()))
    assert "no live changes in the last 15 min" in page.text("freshness")
    assert "no run yet" in page.text("canary")
    assert "No changes since the service started." in page.text("changes")
    assert "No failed or skipped documents." in page.text("failures")
    assert "No golden set configured (FRESHRAG_GOLDEN_SET)" in page.text("quality")
    assert "corpus not measured yet query not measured yet" in page.text("drift")
    assert "No low-scoring queries recently." in page.text("gaps")
    assert "No documents yet." in page.text("documents")
    assert "No watched folders." in page.text("documents")
    assert "idle" in page.classes["freshness"]
    assert "idle" in page.classes["canary"]


def test_user_content_is_escaped_wherever_it_appears() -> None:
    attack = "<script>alert(1)</script>"
    status = full_status()
    status["knowledge_gaps"][0]["query"] = attack
    status["problems"][0]["uri"] = f"/srv/inbox/{attack}.pdf"
    status["recent_changes"][0]["reason"] = attack
    status["canary"]["last"] |= {"outcome": "error", "reason": attack}
    status["watched_folders"] = [f'/srv/"{attack}']
    html = render_status_page(status)
    assert "<script" not in html
    assert html.count("&lt;script&gt;alert(1)&lt;/script&gt;") == 5
    assert attack in Elements(html).text("gaps")


def test_the_page_is_self_contained() -> None:
    html = render_status_page(full_status())
    assert "<script" not in html
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)
    assert "@import" not in html
    assert '<meta http-equiv="refresh" content="10">' in html


def tile_class(status: dict[str, Any], tile: str) -> str:
    classes = Elements(render_status_page(status)).classes[tile]
    states = [state for state in ("ok", "warn", "bad", "idle") if state in classes]
    assert len(states) == 1, classes
    return states[0]


def test_a_healthy_service_has_every_tile_ok() -> None:
    status = full_status()
    assert [tile_class(status, tile) for tile in TILES] == ["ok"] * len(TILES)
    assert tile_class(status, "banner") == "ok"


@pytest.mark.parametrize(("outcome", "state"), [("found", "ok"), ("timeout", "bad"), ("error", "bad")])
def test_the_canary_tile_is_red_unless_the_canary_was_found(outcome: str, state: str) -> None:
    status = full_status()
    status["canary"]["last"]["outcome"] = outcome
    assert tile_class(status, "canary") == state


def test_a_canary_that_stopped_running_is_amber_and_a_disabled_one_grey() -> None:
    status = full_status()
    status["canary"]["last"]["at"] = NOW - 3600
    assert tile_class(status, "canary") == "warn"
    status["canary"]["enabled"] = False
    assert tile_class(status, "canary") == "idle"
    assert "off" in Elements(render_status_page(status)).text("canary")


def test_a_canary_timeout_without_latency_and_a_query_without_results_read_plainly() -> None:
    status = full_status()
    status["canary"]["last"] = {"outcome": "timeout", "latency_seconds": None, "at": NOW - 30, "reason": None}
    status["knowledge_gaps"][0]["top_score"] = None
    page = Elements(render_status_page(status))
    assert page.text("canary").endswith("timeout 30 s ago")
    assert "how do I rotate keys no results 3" in page.text("gaps")


@pytest.mark.parametrize(("p99", "state"), [(1.8, "ok"), (45.0, "warn"), (61.0, "bad")])
def test_the_freshness_tile_follows_p99_against_the_slo(p99: float, state: str) -> None:
    status = full_status()
    status["freshness"]["p99_seconds"] = p99
    assert tile_class(status, "freshness") == state


@pytest.mark.parametrize(("oldest", "state"), [(5.0, "ok"), (120.0, "warn"), (301.0, "bad")])
def test_the_backlog_tile_follows_the_oldest_pending_change(oldest: float, state: str) -> None:
    status = full_status() | {"queue_depth": 7, "oldest_pending_change_age_seconds": oldest}
    assert tile_class(status, "backlog") == state


def test_no_live_worker_is_red_and_dead_letters_are_amber() -> None:
    status = full_status() | {"workers_alive": 0, "dead_letters": 4}
    assert tile_class(status, "workers") == "bad"
    assert tile_class(status, "dead-letters") == "warn"
    page = Elements(render_status_page(status))
    assert "freshrag replay-dead-letters" in page.text("dead-letters")
    assert page.text("banner") == "Needs attention: workers (bad), dead letters (warn)"
    assert "bad" in page.classes["banner"]


def test_a_drop_in_quality_and_drift_over_its_threshold_are_marked() -> None:
    status = full_status()
    status["quality"]["ndcg_at_10"] = 0.60
    status["drift"]["corpus"]["value"] = 0.05
    html = render_status_page(status)
    assert '<td class="num down">-0.100</td>' in html
    assert "corpus 0.050 0.030 over" in Elements(html).text("drift")
    assert Elements(html).text("banner") == "Needs attention: retrieval quality (warn), drift (warn)"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, "–"), (0.12, "120 ms"), (3.44, "3.4 s"), (42.0, "42 s"), (300.0, "5 min"), (7200.0, "2 h")],
)
def test_durations_read_as_people_say_them(seconds: float | None, text: str) -> None:
    assert duration(seconds) == text


def test_times_are_relative_to_when_the_status_was_collected() -> None:
    assert ago(NOW - 12, NOW) == "12 s ago"
    assert ago(NOW - 5.4, NOW) == "5 s ago"
    assert ago(NOW - 300, NOW) == "5 min ago"
    assert ago(NOW + 2, NOW) == "just now"
    assert ago(None, NOW) == "never"
    assert percent(1.0) == "100 %"


def applied(at: float, latency: float, origin: str | None) -> dict[str, Any]:
    """An activity log entry of an applied change (`origin` None: written before origins existed)."""
    entry = {
        "doc_id": f"file:inbox/{at}.md",
        "uri": f"/srv/inbox/{at}.md",
        "source_kind": "file",
        "op": "upsert",
        "outcome": "indexed",
        "latency_seconds": latency,
        "at": at,
        "reason": None,
    }
    return entry if origin is None else entry | {"origin": origin}


def test_a_bulk_load_89_minutes_ago_leaves_an_idle_service_healthy_and_says_it_finished() -> None:
    loaded = NOW - 89 * 60
    log = [applied(loaded - 60 + i, 2.0 * i, "backfill") for i in range(63)]  # p99 about 2 min
    status = full_status() | {
        "freshness": freshness(log, NOW),
        "recent_changes": log[:20],
        "backfill": {
            "queued": 63,
            "done": 63,
            "started_at": loaded - 60,
            "last_progress_at": loaded,
            "state": "done",
        },
    }
    page = Elements(render_status_page(status))
    assert tile_states(status)["freshness"] == "idle"
    assert page.text("overall") == "healthy"
    assert "no live changes in the last 15 min" in page.text("freshness")
    assert page.text("backfill") == "backfill: 63 of 63 applied, finished 89 min ago"
    assert "file backfill upsert indexed" in page.text("changes")


def test_freshness_judges_recent_live_changes_only() -> None:
    slow_backfill = [applied(NOW - 30 - i, 120.0, "backfill") for i in range(50)]
    quick_live = [applied(NOW - 10, 0.4, "live"), applied(NOW - 20, 0.6, None)]
    slow_live_long_ago = [applied(NOW - 7200, 300.0, "live")]
    judged = freshness(quick_live + slow_backfill + slow_live_long_ago, NOW)
    assert judged["changes"] == 2
    assert judged["p99_seconds"] < 1
    assert judged["within_slo"] == 1.0
    assert tile_states(full_status() | {"freshness": judged})["freshness"] == "ok"

    slow_now = freshness([applied(NOW - 10, 90.0, "live"), *quick_live], NOW)
    assert tile_states(full_status() | {"freshness": slow_now})["freshness"] == "bad"  # true now: failing


def test_a_running_backfill_shows_its_progress_in_the_backlog_tile() -> None:
    backfill = {
        "queued": 63,
        "done": 40,
        "started_at": NOW - 30,
        "last_progress_at": NOW - 1,
        "state": "running",
    }
    status = full_status() | {"queue_depth": 23, "oldest_pending_change_age_seconds": 30.0}
    status["backfill"] = backfill
    page = Elements(render_status_page(status))
    assert page.text("backfill") == "backfill: 40 of 63 applied"
    stalled = backfill | {"state": "stalled", "last_progress_at": NOW - 900}
    page = Elements(render_status_page(status | {"backfill": stalled}))
    assert page.text("backfill") == "backfill: 40 of 63 applied, stalled: nothing applied for 15 min"


def answers_and_advice() -> dict[str, Any]:
    answered = {
        "at": NOW - 20,
        "question": "when does the kiln fire",
        "route": "hybrid",
        "outcome": "answered",
        "grounded": True,
        "model": "ft:gpt-4o-mini:acme",
        "citations": 2,
        "dropped_citations": 1,
        "total_ms": 840.0,
        "prompt_tokens": 900,
        "completion_tokens": 40,
        "reason": None,
    }
    failed = answered | {
        "at": NOW - 5,
        "outcome": "llm_error",
        "citations": 0,
        "dropped_citations": 0,
        "reason": "OpenAI POST http://llm/v1/chat/completions answered 500: down",
    }
    refused = answered | {
        "at": NOW - 60,
        "outcome": "no_information",
        "model": None,
        "citations": 0,
        "dropped_citations": 0,
    }
    fallback = answered | {
        "at": NOW - 90,
        "route": "cascade",
        "outcome": "fallback",
        "grounded": False,
        "citations": 0,
        "dropped_citations": 0,
    }
    finding = {
        "question": "How often does the knowledge change?",
        "figure": "12% of 40 documents changed",
        "points_to": "rag",
        "thin": False,
    }
    thin = {
        "question": "How many queries?",
        "figure": "3 queries seen: too few",
        "points_to": None,
        "thin": True,
    }
    return {
        "answers": {
            "recent": [failed, answered, refused, fallback],
            "outcomes": {"answered": 1, "llm_error": 1, "no_information": 1, "fallback": 1},
            "counted": 4,
        },
        "advice": {
            "recommendation": "rag",
            "confident": False,
            "summary": "Too little data to be sure (How many queries?). RAG: keep answering.",
            "findings": [finding, thin],
            "figures": {},
            "notes": ["An answer costs about $0.00020 (tokens times FRESHRAG_PRICE_*)."],
        },
    }


def test_the_latest_answers_and_the_advice_are_shown() -> None:
    page = Elements(render_status_page(full_status() | answers_and_advice()))
    answers = page.text("answers")
    assert "Of the last 4: 1 answered, 1 fallback, 1 llm error, 1 no information." in answers
    assert "5 s ago llm error hybrid ft:gpt-4o-mini:acme 0 840 ms OpenAI POST" in answers
    assert (
        "20 s ago answered hybrid ft:gpt-4o-mini:acme 2 (1 dropped) 840 ms when does the kiln fire" in answers
    )
    assert "no information hybrid none called" in answers
    assert "fallback not grounded cascade" in answers
    advice = page.text("advice")
    assert advice.startswith("RAG or fine-tuning? rag Too little data to be sure")
    assert "How often does the knowledge change? 12% of 40 documents changed rag" in advice
    assert "How many queries? 3 queries seen: too few too little data" in advice
    assert "An answer costs about $0.00020" in advice


def test_without_answers_the_section_says_how_to_ask() -> None:
    page = Elements(render_status_page(fresh_status()))
    assert "No question asked yet" in page.text("answers")
    assert "advice" not in page.texts


def test_the_latest_answers_show_questions_only_to_the_admin() -> None:
    entries = answers_and_advice()["answers"]["recent"]
    shown = answers_summary(entries, show_queries=True)
    assert shown["recent"][1]["question"] == "when does the kiln fire"
    assert (shown["counted"], shown["outcomes"]["llm_error"]) == (4, 1)
    hidden = answers_summary(entries, show_queries=False)
    assert all("question" not in entry for entry in hidden["recent"])
    assert hidden["outcomes"] == shown["outcomes"]
