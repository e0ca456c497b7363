"""POST /ask on the real app, model and store, against a local OpenAI-compatible server
(tests/fake_openai.py): answers cite the passages they use with their versions; weak retrieval is refused
without calling the model and counts as a knowledge gap; bogus citation numbers are dropped and counted; the
hybrid route once a fine-tuned answer model is live, the router and the cascade; streaming delivers tokens
before the end; the chat endpoint down, slow or answering garbage gets 502 or 504 with the reason and
nothing else is affected; a long question or an unknown route is 422 naming the field."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient

from freshrag.runtime import Runtime
from freshrag.state.registry import Backend, RunStatus
from freshrag.status import gaps
from freshrag.training.openai_runs import poll_jobs, start_job
from services.api import create_app
from tests.fake_openai import FakeOpenAI
from tests.served import served

CHAT = ("POST", "/v1/chat/completions")
NO_INFORMATION = "I don't have that information."


def metric(client: TestClient, name: str, **labels: str) -> float:
    wanted = "{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}" if labels else ""
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(name + wanted + " ") or (not labels and line.startswith(name + " ")):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_an_answer_cites_the_passage_it_used_with_its_version(
    start_answering: Callable[..., tuple[Runtime, TestClient]], answer_model: FakeOpenAI
) -> None:
    runtime, client = start_answering()
    response = client.post("/ask", json={"question": "When does the glaze kiln fire?"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["answer"] == "The glaze kiln fires every Thursday at six in the morning [1]."
    assert (body["outcome"], body["grounded"], body["route"]) == ("answered", True, "rag")
    assert body["model"] == runtime.settings.answer_model
    [citation] = body["citations"]
    assert citation["n"] == 1
    assert citation["uri"].endswith("kiln.md")
    assert (citation["version"], citation["title"]) == (1, "Kiln schedule")
    assert citation["indexed_at"] is not None
    assert body["usage"] == {"prompt_tokens": 50, "completion_tokens": 12}
    assert body["retrieval_ms"] > 0
    assert body["generation_ms"] > 0
    [sent] = answer_model.chat_bodies
    assert sent["model"] == runtime.settings.answer_model
    system, user = sent["messages"]
    assert NO_INFORMATION in system["content"]
    assert user["content"].startswith("Context:\n[1] Kiln schedule (version 1)\nThe glaze kiln fires")
    assert user["content"].endswith("Question: When does the glaze kiln fire?")
    assert metric(client, "freshrag_ask_total", route="rag", outcome="answered") == 1
    assert (
        metric(client, "freshrag_ask_tokens_total", model=runtime.settings.answer_model, kind="prompt") == 50
    )
    assert metric(client, "freshrag_ask_seconds_count", stage="generation") == 1


def test_weak_retrieval_says_no_information_without_calling_the_model_and_is_a_gap(
    start_answering: Callable[..., tuple[Runtime, TestClient]], answer_model: FakeOpenAI
) -> None:
    runtime, client = start_answering()
    question = "What is the airspeed of an unladen swallow?"
    body = client.post("/ask", json={"question": question}).json()
    assert (body["answer"], body["outcome"], body["model"], body["citations"]) == (
        NO_INFORMATION,
        "no_information",
        None,
        [],
    )
    assert answer_model.calls(*CHAT) == 0
    assert metric(client, "freshrag_ask_total", route="rag", outcome="no_information") == 1
    assert runtime.search.activity is not None
    runtime.search.activity.flush()
    assert question in [gap["query"] for gap in gaps(runtime)]
    shown = client.get("/status").json()
    assert shown["answers"]["recent"][0]["outcome"] == "no_information"


def test_bogus_citation_numbers_are_dropped_and_counted(
    start_answering: Callable[..., tuple[Runtime, TestClient]],
) -> None:
    _, client = start_answering()
    body = client.post("/ask", json={"question": "When does the glaze kiln fire? (bogus)"}).json()
    assert body["answer"] == "The glaze kiln fires every Thursday at six in the morning [1]."
    assert body["dropped_citations"] == 1
    assert [citation["n"] for citation in body["citations"]] == [1]
    assert metric(client, "freshrag_ask_citations_dropped_total") == 1


def test_the_hybrid_route_answers_with_the_openai_model_once_its_job_went_live(
    start_answering: Callable[..., tuple[Runtime, TestClient]], answer_model: FakeOpenAI, tmp_path: Path
) -> None:
    examples = tmp_path / "curated.jsonl"
    examples.write_text(
        "".join(
            json.dumps(
                {"question": f"Where is room {i}?", "answer": f"Floor {i} [1].", "context": f"Room {i}."}
            )
            + "\n"
            for i in range(12)
        )
    )
    runtime, client = start_answering(openai_examples=examples)
    before = client.post("/ask", json={"question": "Where do visitors park?"}).json()
    assert (before["route"], before["model"]) == ("rag", runtime.settings.answer_model)

    job = start_job(runtime, "test")  # the OpenAI backend's own path: upload, create, poll until done
    while runtime.registry.get(job.version).status is RunStatus.CANDIDATE:  # type: ignore[union-attr]
        poll_jobs(runtime)
    live = runtime.registry.live(Backend.OPENAI)
    assert live is not None
    assert live.fine_tuned_model
    tuned = live.fine_tuned_model

    body = client.post("/ask", json={"question": "Where do visitors park?"}).json()
    assert (body["route"], body["model"], body["outcome"]) == ("hybrid", tuned, "answered")
    assert answer_model.chat_bodies[-1]["model"] == tuned
    assert body["citations"][0]["uri"].endswith("parking.md")
    assert metric(client, "freshrag_ask_total", route="hybrid", outcome="answered") == 1
    assert metric(client, "freshrag_ask_tokens_total", model=tuned, kind="completion") == 12
    forced = client.post("/ask", json={"question": "Where do visitors park?", "route": "rag"}).json()
    assert (forced["route"], forced["model"]) == ("rag", runtime.settings.answer_model)


def test_the_router_and_the_cascade(
    start_answering: Callable[..., tuple[Runtime, TestClient]], answer_model: FakeOpenAI
) -> None:
    rules = [{"pattern": "(?i)weather|swallow", "route": "cascade"}]
    _, client = start_answering(answer_routes=rules, answer_fallback=True)
    answer_model.chat_reply = lambda messages: "Roughly 11 metres a second, from general knowledge."
    body = client.post("/ask", json={"question": "What is the airspeed of an unladen swallow?"}).json()
    assert (body["route"], body["routed_by"], body["outcome"], body["grounded"]) == (
        "cascade",
        0,
        "fallback",
        False,
    )
    assert body["answer"] == "Roughly 11 metres a second, from general knowledge."
    assert body["citations"] == []
    assert "Context:" not in answer_model.chat_bodies[-1]["messages"][-1]["content"]  # the model alone
    plain = client.post("/ask", json={"question": "When does the glaze kiln fire?"}).json()
    assert (plain["route"], plain["routed_by"]) == ("rag", None)

    # Retrieval finds a passage but the model says it does not hold the answer: the cascade starts over.
    replies = iter([NO_INFORMATION, "Ask the front desk, from general knowledge."])
    answer_model.chat_reply = lambda messages: next(replies)
    events = sse(client.post("/ask", json={"question": "Which weather does the kiln need?", "stream": True}))
    names = [name for name, _ in events]
    assert names == ["token"] * 5 + ["restart"] + ["token"] * 7 + ["answer"]
    answer = events[-1][1]
    assert (answer["outcome"], answer["grounded"], answer["route"]) == ("fallback", False, "cascade")


def test_the_cascade_without_fallback_says_no_information(
    start_answering: Callable[..., tuple[Runtime, TestClient]], answer_model: FakeOpenAI
) -> None:
    _, client = start_answering(answer_route="cascade")
    body = client.post("/ask", json={"question": "What is the airspeed of an unladen swallow?"}).json()
    assert (body["route"], body["outcome"], body["grounded"]) == ("cascade", "no_information", True)
    assert answer_model.calls(*CHAT) == 0


def sse(response: httpx.Response) -> list[tuple[str, dict[str, Any]]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    events = []
    for block in response.text.strip().split("\n\n"):
        name, data = block.split("\n")
        events.append((name.removeprefix("event: "), json.loads(data.removeprefix("data: "))))
    return events


def test_streaming_delivers_tokens_before_the_end(
    start_answering: Callable[..., tuple[Runtime, TestClient]], answer_model: FakeOpenAI
) -> None:
    runtime, _ = start_answering()
    answer_model.stream_pause = 0.15
    arrivals: list[tuple[float, str, dict[str, Any]]] = []
    with served(create_app(runtime)) as url, httpx.Client(base_url=url, timeout=30) as http:
        began = time.monotonic()
        body = {"question": "When does the glaze kiln fire?", "stream": True}
        with http.stream("POST", "/ask", json=body) as response:
            assert response.status_code == 200
            name = ""
            for line in response.iter_lines():
                if line.startswith("event: "):
                    name = line.removeprefix("event: ")
                elif line.startswith("data: "):
                    arrivals.append((time.monotonic() - began, name, json.loads(line.removeprefix("data: "))))
    names = [name for _, name, _ in arrivals]
    assert names[-1] == "answer"
    assert names.count("token") == len(names) - 1 >= 5
    first_token, end = arrivals[0][0], arrivals[-1][0]
    assert end - first_token > 0.5  # the first token came while the model was still writing
    answer = arrivals[-1][2]
    assert "".join(data["text"] for _, name, data in arrivals if name == "token") == answer["answer"]
    assert answer["citations"][0]["uri"].endswith("kiln.md")
    assert answer["usage"]["completion_tokens"] == names.count("token")


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}/v1"


def test_the_chat_endpoint_down_slow_or_garbage_is_502_or_504_with_the_reason(
    start_answering: Callable[..., tuple[Runtime, TestClient]], answer_model: FakeOpenAI, tmp_path: Path
) -> None:
    question = {"question": "When does the glaze kiln fire?"}
    _, down = start_answering(openai_base_url=closed_port_url())
    response = down.post("/ask", json=question)
    assert response.status_code == 502
    assert "no answer" in response.json()["detail"]
    assert response.json()["reason"] == "unavailable"

    _, client = start_answering(answer_timeout_seconds=0.3, data_dir=tmp_path / "second")
    answer_model.chat_delay = 1.0
    response = client.post("/ask", json=question)
    assert response.status_code == 504, response.text
    assert "FRESHRAG_ANSWER_TIMEOUT_SECONDS" in response.json()["detail"]
    answer_model.chat_delay = 0.0

    answer_model.chat_raw = b'{"id": "chatcmpl-1", "object": "chat.completion", "choices": []}'
    response = client.post("/ask", json=question)
    assert (response.status_code, response.json()["reason"]) == (502, "invalid")
    assert "no choices" in response.json()["detail"]
    answer_model.chat_raw = b"<html>Bad gateway</html>"
    response = client.post("/ask", json=question | {"stream": True})
    assert (response.status_code, response.json()["reason"]) == (502, "invalid")
    answer_model.chat_raw = None

    # A stream that breaks after its first tokens ends with an error event (the status is sent already).
    answer_model.stream_garbage_after = 3
    events = sse(client.post("/ask", json=question | {"stream": True}))
    assert [name for name, _ in events] == ["token", "token", "token", "error"]
    assert (events[-1][1]["status"], events[-1][1]["reason"]) == (502, "invalid")
    answer_model.stream_garbage_after = None

    answer_model.fail_requests("/v1/chat/completions", status=500)
    response = client.post("/ask", json=question)
    assert response.status_code == 502
    assert "answered 500" in response.json()["detail"]

    # Nothing else is affected: search answers, and the failures are counted.
    assert client.get("/search", params={"q": "kiln"}).status_code == 200
    assert metric(client, "freshrag_ask_total", route="rag", outcome="llm_error") == 5
    assert client.get("/status").json()["answers"]["recent"][0]["outcome"] == "llm_error"


def test_a_long_question_or_an_unknown_route_is_422_naming_the_field(
    start_answering: Callable[..., tuple[Runtime, TestClient]], answer_model: FakeOpenAI
) -> None:
    _, client = start_answering()
    for body, field in (
        ({"question": "x" * 4097}, "question"),
        ({"question": "   "}, "question"),
        ({"question": "kiln?", "route": "oracle"}, "route"),
        ({"question": "kiln?", "mode": "psychic"}, "mode"),
    ):
        response = client.post("/ask", json=body)
        assert response.status_code == 422, body
        assert response.json()["detail"][0]["loc"][-1] == field
    assert client.post("/ask", json={"question": "kiln?", "filter": {"colour": "red"}}).status_code == 400
    assert answer_model.calls(*CHAT) == 0
