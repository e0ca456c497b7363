"""The OpenAI backend through the real `openai` client against a local stand-in for the API
(tests/fake_openai.py): a job is started with the examples as its training file, polled until it finished,
cancelled; API failures become `OpenAIBackendError` naming the endpoint and the status; invalid examples
never leave the machine; LLM-written queries skip a passage whose call fails."""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from freshrag.settings import load_settings
from freshrag.training.llm_queries import write_queries
from freshrag.training.openai_tuning import (
    Curated,
    ExamplesError,
    JobState,
    OpenAIBackendError,
    OpenAIFineTuner,
    build_chat_examples,
    openai_client,
    read_curated,
    to_jsonl,
)
from tests.fake_openai import FakeOpenAI, fake_openai

BASE_MODEL = "gpt-4o-mini-2024-07-18"
SYSTEM = "Answer the question using only the context. Cite the source of each fact."
CURATED = [
    Curated(f"How long is the warranty of model {i}?", f"{i + 1} years, from delivery [warranty-{i}.md].")
    for i in range(11)
] + [Curated("Où est la notice ?", "Dans la boîte [notice.md].", "La notice est dans la boîte.")]


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with fake_openai(api_key="sk-test") as server:
        yield server


def client_of(fake: FakeOpenAI, tmp_path: Path, api_key: str = "sk-test") -> openai.OpenAI:
    settings = load_settings(data_dir=tmp_path, openai_api_key=api_key, openai_base_url=fake.base_url)
    return openai_client(settings)


@pytest.fixture
def tuner(fake: FakeOpenAI, tmp_path: Path) -> Iterator[OpenAIFineTuner]:
    with client_of(fake, tmp_path) as client:
        yield OpenAIFineTuner(client, BASE_MODEL, suffix="support")


@pytest.fixture
def examples() -> list[dict[str, Any]]:
    return build_chat_examples(CURATED, SYSTEM, lambda question: f"Section on: {question}")


def poll_until_finished(tuner: OpenAIFineTuner, job_id: str) -> list[JobState]:
    states = [tuner.poll(job_id)]
    while not states[-1].finished and len(states) < 10:
        states.append(tuner.poll(job_id))
    return states


def test_start_uploads_the_examples_and_creates_a_job(
    tuner: OpenAIFineTuner, fake: FakeOpenAI, examples: list[dict[str, Any]]
) -> None:
    state = tuner.start(examples)
    assert (state.status, state.finished, state.fine_tuned_model) == ("validating_files", False, None)
    assert fake.requests == [("POST", "/v1/files"), ("POST", "/v1/fine_tuning/jobs")]
    uploaded = fake.files[str(state.training_file)]
    assert (uploaded.purpose, uploaded.filename) == ("fine-tune", "freshrag-train.jsonl")
    assert uploaded.data == to_jsonl(examples)
    assert [json.loads(line) for line in uploaded.data.decode().splitlines()] == examples
    job = fake.jobs[state.job_id]
    assert (job.model, job.suffix, job.training_file) == (BASE_MODEL, "support", uploaded.id)


def test_a_job_is_polled_until_it_succeeded(
    tuner: OpenAIFineTuner, fake: FakeOpenAI, examples: list[dict[str, Any]]
) -> None:
    job_id = tuner.start(examples).job_id
    states = poll_until_finished(tuner, job_id)
    assert [state.status for state in states] == ["queued", "running", "succeeded"]
    final = states[-1]
    assert final.finished
    assert final.fine_tuned_model == f"ft:{BASE_MODEL}:freshrag:support:{job_id}"
    assert final.trained_tokens
    assert final.error is None
    assert final.events[0] == "The job has successfully completed"  # newest first
    assert final.events[-1].startswith("Validating training file")
    assert json.loads(json.dumps(final.to_json()))["fine_tuned_model"] == final.fine_tuned_model
    assert fake.calls("GET", f"/v1/fine_tuning/jobs/{job_id}/events") == 3


def test_a_training_file_openai_refuses_fails_the_job_with_its_reason(
    tuner: OpenAIFineTuner, fake: FakeOpenAI, tmp_path: Path, examples: list[dict[str, Any]]
) -> None:
    examples[2]["messages"][1]["role"] = "tool"  # what freshrag refuses, sent past its validation
    with client_of(fake, tmp_path) as client:
        uploaded = client.files.create(file=("bad.jsonl", to_jsonl(examples)), purpose="fine-tune")
        job = client.fine_tuning.jobs.create(model=BASE_MODEL, training_file=uploaded.id)
    state = tuner.poll(job.id)
    assert (state.status, state.finished) == ("failed", True)
    assert state.error is not None
    assert "Line 3" in state.error
    assert state.fine_tuned_model is None


def test_a_job_is_cancelled(tuner: OpenAIFineTuner, examples: list[dict[str, Any]]) -> None:
    job_id = tuner.start(examples).job_id
    tuner.poll(job_id)
    cancelled = tuner.cancel(job_id)
    assert (cancelled.status, cancelled.finished) == ("cancelled", True)
    assert tuner.poll(job_id).status == "cancelled"
    with pytest.raises(OpenAIBackendError, match=r"POST \S+/cancel answered 400: .*already cancelled"):
        tuner.cancel(job_id)


def test_a_wrong_api_key_is_an_error_naming_the_endpoint_and_401(
    fake: FakeOpenAI, tmp_path: Path, examples: list[dict[str, Any]]
) -> None:
    with client_of(fake, tmp_path, api_key="sk-wrong") as client:
        tuner = OpenAIFineTuner(client, BASE_MODEL)
        with pytest.raises(OpenAIBackendError) as raised:
            tuner.start(examples)
    message = str(raised.value)
    assert f"POST {fake.base_url}/files answered 401" in message
    assert "FRESHRAG_OPENAI_API_KEY" in message
    assert fake.requests == [("POST", "/v1/files")]  # not retried, no job
    assert not fake.files


def test_an_unknown_job_is_an_error_naming_404(tuner: OpenAIFineTuner) -> None:
    with pytest.raises(OpenAIBackendError, match=r"GET \S+/fine_tuning/jobs/ftjob-nope answered 404"):
        tuner.poll("ftjob-nope")


def test_an_unreachable_endpoint_is_an_error_naming_it(examples: list[dict[str, Any]]) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # free once closed: nothing listens there
    client = openai.OpenAI(api_key="sk-test", base_url=f"http://127.0.0.1:{port}/v1", max_retries=0)
    with (
        client,
        pytest.raises(OpenAIBackendError, match=rf"POST http://127.0.0.1:{port}/v1/files: no answer"),
    ):
        OpenAIFineTuner(client, BASE_MODEL).start(examples)


def test_invalid_examples_never_reach_the_server(
    tuner: OpenAIFineTuner, fake: FakeOpenAI, examples: list[dict[str, Any]]
) -> None:
    with pytest.raises(ExamplesError, match="OpenAI needs at least 10"):
        tuner.start(examples[:3])
    examples[4]["messages"][2]["content"] = ""
    with pytest.raises(ExamplesError, match=r"line 5: message 3 \(assistant\): content"):
        tuner.start(examples)
    assert fake.requests == []


def test_curated_examples_are_read_from_a_file_naming_a_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "curated.jsonl"
    path.write_text('{"question": "Où ?", "answer": "Là."}\n\n{"question": "No answer?"}\n', encoding="utf-8")
    with pytest.raises(ExamplesError, match=rf'{path}:3: field "answer" is missing'):
        read_curated(path)
    path.write_text('{"question": "Où ?", "answer": "Là."}\n', encoding="utf-8")
    assert read_curated(path) == [Curated("Où ?", "Là.")]
    with pytest.raises(ExamplesError, match="cannot read"):
        read_curated(tmp_path / "missing.jsonl")


def test_questions_are_written_for_passages(fake: FakeOpenAI, tmp_path: Path) -> None:
    passages = ["The warranty covers parts and labour for two years.", "Returns are free within 30 days."]
    with client_of(fake, tmp_path) as client:
        pairs = write_queries(client, "gpt-4o-mini", passages)
    assert pairs == [
        ("What does The warranty covers parts and describe?", passages[0]),
        ("What does Returns are free within 30 describe?", passages[1]),
    ]
    assert fake.calls("POST", "/v1/chat/completions") == 2


def test_a_passage_whose_call_fails_is_skipped_and_logged(
    fake: FakeOpenAI, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    passages = ["First passage about invoices.", "A poisoned passage.", "Third passage about refunds."]
    fake.fail_requests("/v1/chat/completions", containing="poisoned", status=500)
    with client_of(fake, tmp_path) as client, caplog.at_level(logging.WARNING):
        pairs = write_queries(client, "gpt-4o-mini", passages)
    assert [passage for _, passage in pairs] == [passages[0], passages[2]]
    assert fake.calls("POST", "/v1/chat/completions") == 2 + 3  # the failing one tried 3 times (2 retries)
    warnings = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "A poisoned passage." in warnings[0]
    assert "/v1/chat/completions answered 500" in warnings[0]
