"""OpenAI training examples without I/O: curated lines parsed (or refused by line and field), chat examples
built with the given or the retrieved context, every reason OpenAI would refuse them found before upload,
and the questions an LLM writes cleaned of their list formatting."""

from __future__ import annotations

import json
from typing import Any

import pytest

from freshrag.settings import SettingsError, load_settings
from freshrag.training.llm_queries import MAX_QUESTION_CHARS, parse_questions
from freshrag.training.openai_tuning import (
    Curated,
    ExamplesError,
    JobState,
    build_chat_examples,
    estimate_tokens,
    openai_client,
    parse_curated,
    to_jsonl,
    user_message,
    validate_chat_examples,
)

SYSTEM = "Answer from the context and cite it."


def chat(*messages: tuple[str, Any]) -> dict[str, Any]:
    return {"messages": [{"role": role, "content": content} for role, content in messages]}


def good(i: int = 0) -> dict[str, Any]:
    return chat(("system", SYSTEM), ("user", f"Context:\nc{i}\n\nQuestion: q{i}"), ("assistant", f"a{i}"))


def problems_of(examples: list[dict[str, Any]], max_tokens: int = 1000) -> str:
    with pytest.raises(ExamplesError) as raised:
        validate_chat_examples(examples, max_tokens)
    return str(raised.value)


def test_curated_lines_are_parsed_and_blank_lines_skipped() -> None:
    lines = [
        '{"question": "How long is the warranty?", "answer": "Two years [terms.md]."}',
        "",
        "   ",
        '{"question": "Who signs?", "answer": "The buyer.", "context": "The buyer signs the form."}',
        '{"question": "Why?", "answer": "Because.", "context": null}',
    ]
    assert parse_curated(lines, "examples.jsonl") == [
        Curated("How long is the warranty?", "Two years [terms.md].", None),
        Curated("Who signs?", "The buyer.", "The buyer signs the form."),
        Curated("Why?", "Because.", None),
    ]


def test_every_bad_curated_line_is_named_with_its_field() -> None:
    lines = [
        '{"question": "ok?", "answer": "ok"}',
        '{"question": "no answer?"}',
        '{"question": "", "answer": "x"}',
        "not json",
        '["a", "list"]',
        '{"question": "q", "answer": "a", "contxt": "typo"}',
        '{"question": "q", "answer": 3}',
        '{"question": "q", "answer": "a", "context": ""}',
    ]
    with pytest.raises(ExamplesError) as raised:
        parse_curated(lines, "curated.jsonl")
    message = str(raised.value)
    assert 'curated.jsonl:2: field "answer" is missing' in message
    assert 'curated.jsonl:3: field "question" must be a non-empty string' in message
    assert "curated.jsonl:4: not JSON" in message
    assert "curated.jsonl:5: not a JSON object" in message
    assert 'curated.jsonl:6: unknown field "contxt"' in message
    assert 'curated.jsonl:7: field "answer" must be a non-empty string' in message
    assert 'curated.jsonl:8: field "context" must be a non-empty string' in message
    assert "curated.jsonl:1:" not in message


def test_examples_carry_the_given_context_or_the_retrieved_one() -> None:
    retrieved: list[str] = []

    def retrieve(question: str) -> str:
        retrieved.append(question)
        return f"retrieved for {question}"

    curated = [Curated("Q1?", "A1", "given context"), Curated("Q2?", "A2")]
    examples = build_chat_examples(curated, SYSTEM, retrieve)
    assert retrieved == ["Q2?"]
    assert examples == [
        chat(("system", SYSTEM), ("user", "Context:\ngiven context\n\nQuestion: Q1?"), ("assistant", "A1")),
        chat(("system", SYSTEM), ("user", user_message("retrieved for Q2?", "Q2?")), ("assistant", "A2")),
    ]


def test_ten_good_examples_are_valid() -> None:
    validate_chat_examples([good(i) for i in range(10)], max_tokens=1000)


def test_fewer_than_ten_examples_are_refused() -> None:
    assert "9 examples: OpenAI needs at least 10" in problems_of([good(i) for i in range(9)])


@pytest.mark.parametrize(
    ("bad", "problem"),
    [
        ({"messages": []}, '"messages" must be a non-empty list'),
        ({"prompt": "x", "completion": "y"}, '"messages" must be a non-empty list'),
        (chat(("user", "q"), ("bot", "a"), ("assistant", "a")), "message 2: unknown role 'bot'"),
        (chat(("user", "q"), ("tool", "{}"), ("assistant", "a")), "message 2: role 'tool' is not supported"),
        (chat(("user", "q"), ("function", "{}"), ("assistant", "a")), "message 2: role 'function' is not"),
        (chat(("user", ""), ("assistant", "a")), "message 1 (user): content must be a non-empty string"),
        (chat(("user", "q"), ("assistant", None)), "message 2 (assistant): content must be a non-empty"),
        (chat(("user", "q"), ("assistant", ["a"])), "message 2 (assistant): content must be a non-empty"),
        (chat(("system", "s"), ("user", "q")), "no assistant message"),
        (chat(("user", "q" * 3000), ("assistant", "a")), "about 1009 tokens (estimated), more than"),
    ],
)
def test_each_kind_of_bad_example_is_refused_with_its_line(bad: dict[str, Any], problem: str) -> None:
    examples = [good(i) for i in range(10)]
    examples[3] = bad
    message = problems_of(examples)
    assert f"line 4: {problem}" in message
    assert "line 1:" not in message
    assert "OpenAI needs at least" not in message  # ten examples: the count is fine


def test_all_problems_are_listed_at_once() -> None:
    examples = [good(i) for i in range(8)]
    examples[0] = chat(("user", "q"), ("tool", "x"))
    examples[5] = chat(("user", "q" * 3000), ("assistant", ""))
    message = problems_of(examples)
    assert "8 examples: OpenAI needs at least 10" in message
    assert "line 1: message 2: role 'tool' is not supported" in message
    assert "line 1: no assistant message" in message
    assert "line 6: message 2 (assistant): content must be a non-empty string" in message
    assert "line 6: about 1008 tokens (estimated)" in message
    assert "FRESHRAG_OPENAI_MAX_EXAMPLE_TOKENS" in message


def test_tokens_are_over_estimated_from_utf8_bytes() -> None:
    # 3 bytes per token, rounded up per message, plus 4 per message: English is about 4 bytes per token.
    assert estimate_tokens([{"role": "user", "content": "abc"}]) == 1 + 4
    assert estimate_tokens([{"role": "user", "content": "abcd"}, {"role": "assistant", "content": "é"}]) == (
        2 + 4 + 1 + 4
    )
    assert estimate_tokens([{"role": "user", "content": None}]) == 4


def test_jsonl_is_one_utf8_object_per_line() -> None:
    examples = [chat(("user", "Où est la gare ?\nLà-bas."), ("assistant", "À gauche."))] * 2
    data = to_jsonl(examples)
    assert data.endswith(b"\n")
    assert "Où".encode() in data
    assert [json.loads(line) for line in data.decode().splitlines()] == examples


def test_a_job_state_is_finished_only_in_a_final_status() -> None:
    running = JobState("ftjob-1", "running", events=["Fine-tuning job started"])
    assert not running.finished
    assert JobState("ftjob-1", "cancelled").finished
    assert running.to_json() == {
        "job_id": "ftjob-1",
        "status": "running",
        "fine_tuned_model": None,
        "training_file": None,
        "error": None,
        "trained_tokens": None,
        "events": ["Fine-tuning job started"],
        "finished": False,
    }


def test_the_client_needs_an_api_key() -> None:
    with pytest.raises(SettingsError, match="FRESHRAG_OPENAI_API_KEY"):
        openai_client(load_settings(openai_api_key=" "))
    client = openai_client(load_settings(openai_api_key="sk-x", openai_base_url="http://127.0.0.1:9/v1"))
    assert str(client.base_url) == "http://127.0.0.1:9/v1/"
    assert client.max_retries == 2


def test_questions_are_cleaned_of_list_formatting() -> None:
    text = '1. "What does the warranty cover?"\n\n2) How long is it?\n- Q: Who signs?\n3.5 inch drives fit?\n'
    assert parse_questions(text) == [
        "What does the warranty cover?",
        "How long is it?",
        "Who signs?",
        "3.5 inch drives fit?",
    ]


def test_repeated_and_overlong_questions_are_dropped() -> None:
    long_question = "Why " + "x" * MAX_QUESTION_CHARS + "?"
    assert parse_questions(f"Why?\n“Why?”\n{long_question}\n  \n") == ["Why?"]
