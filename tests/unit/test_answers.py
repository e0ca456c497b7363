"""The pure steps of an answer: the prompt within its budget, best passages first; citation checking; the
route chosen by request, router rules and default; reading the model's "no information" sentence."""

from __future__ import annotations

import pytest

from freshrag.answers.citations import check_citations
from freshrag.answers.model import AskRequest, Route
from freshrag.answers.prompt import build_prompt, passage_block
from freshrag.answers.routes import UnknownRouteError, choose_route, parse_route
from freshrag.answers.service import says_no_information
from freshrag.search import SearchResult
from freshrag.settings import RouteRule, SettingsError, load_settings


def result(n: int, text: str = "", title: str = "Guide", heading: tuple[str, ...] = ()) -> SearchResult:
    return SearchResult(
        doc_id=f"file:/docs/{n}.md",
        uri=f"/docs/{n}.md",
        title=title,
        heading=list(heading),
        text=text or f"Passage number {n}.",
        score=1.0 - n / 100,
        similarity=0.9 - n / 100,
        version=n,
        indexed_at=1000.0 + n,
    )


def test_a_passage_names_its_title_heading_path_and_version() -> None:
    block = passage_block(2, result(7, "  The text.  ", title="Guide", heading=("Guide", "Install", "Linux")))
    assert block == "[2] Guide > Install > Linux (version 7)\nThe text."
    assert passage_block(1, result(1, heading=("Setup",))).startswith("[1] Guide > Setup (version 1)")
    assert passage_block(1, result(1, title="")).startswith("[1] /docs/1.md (version 1)")


def test_the_prompt_keeps_the_best_passages_that_fit_the_budget() -> None:
    results = [result(n, "word " * 60) for n in range(1, 6)]  # about 100 estimated tokens each
    prompt = build_prompt("What?", results, "System.", budget_tokens=250)
    assert [kept.version for kept in prompt.passages] == [1, 2]
    system, user = prompt.messages
    assert system == {"role": "system", "content": "System."}
    assert user["content"].startswith("Context:\n[1] Guide (version 1)\n")
    assert "[2] Guide (version 2)" in user["content"]
    assert "[3]" not in user["content"]
    assert user["content"].endswith("\n\nQuestion: What?")


def test_the_best_passage_is_kept_even_alone_over_the_budget_cut_to_it() -> None:
    prompt = build_prompt("What?", [result(1, "x" * 10_000), result(2)], "S", budget_tokens=100)
    assert [kept.version for kept in prompt.passages] == [1]
    assert len(prompt.messages[1]["content"]) < 400


def test_citations_keep_the_passages_used_and_drop_numbers_that_name_none() -> None:
    passages = [result(1), result(2), result(3)]
    checked = check_citations("Kilns fire on Thursday [2][7]. They cool [3, 9, 2]. Fact [12].", passages)
    assert checked.text == "Kilns fire on Thursday [2]. They cool [3, 2]. Fact."
    assert [(c.n, c.version) for c in checked.citations] == [(2, 2), (3, 3)]
    assert checked.dropped == 3
    plain = check_citations("No citation at all.", passages)
    assert (plain.text, plain.citations, plain.dropped) == ("No citation at all.", [], 0)
    assert check_citations("Zero [0].", passages).dropped == 1
    assert check_citations("The [2023] report [1].", passages).text == "The [2023] report [1]."


RULES = [
    RouteRule(pattern="(?i)^how do i", route="hybrid"),
    RouteRule(filter={"root": "/srv/policies"}, route="cascade"),
]


@pytest.mark.parametrize(
    ("request_", "fine_tuned", "expected"),
    [
        (AskRequest("What is X?"), False, (Route.RAG, None)),
        (AskRequest("What is X?"), True, (Route.HYBRID, None)),
        (AskRequest("How do I reset?"), True, (Route.HYBRID, 0)),
        (AskRequest("How do I reset?"), False, (Route.RAG, 0)),  # hybrid needs a live fine-tuned model
        (AskRequest("What?", filter={"root": "/srv/policies"}), True, (Route.CASCADE, 1)),
        (AskRequest("What?", filter={"root": "/srv/other"}), False, (Route.RAG, None)),
        (AskRequest("How do I reset?", route="cascade"), True, (Route.CASCADE, None)),
        (AskRequest("What?", route="AUTO"), True, (Route.HYBRID, None)),
    ],
)
def test_the_route_is_the_request_s_then_the_router_s_then_the_default(
    request_: AskRequest, fine_tuned: bool, expected: tuple[Route, int | None]
) -> None:
    chosen = choose_route(request_, "auto", RULES, fine_tuned)
    assert (chosen.route, chosen.rule) == expected


def test_a_configured_default_route_and_an_unknown_route() -> None:
    assert choose_route(AskRequest("What?"), "cascade", [], True).route is Route.CASCADE
    with pytest.raises(UnknownRouteError, match=r"^route: 'oracle' is not a route"):
        parse_route("oracle")
    with pytest.raises(SettingsError, match=r"FRESHRAG_ANSWER_ROUTES\.0"):
        load_settings(answer_routes=[{"route": "rag"}])
    with pytest.raises(SettingsError, match="not a regular expression"):
        load_settings(answer_routes=[{"route": "rag", "pattern": "("}])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I don't have that information.", True),
        ("I don’t have that information [1]", True),
        ('"I DON\'T HAVE THAT INFORMATION"', True),
        ("Sorry, I don't have that information in these passages.", True),
        ("The kiln fires on Thursday [1].", False),
        ("The kiln fires on Thursday [1]. " * 5 + "I don't have that information about Friday.", False),
    ],
)
def test_the_no_information_sentence_is_recognised(text: str, expected: bool) -> None:
    assert says_no_information(text, "I don't have that information.") is expected
