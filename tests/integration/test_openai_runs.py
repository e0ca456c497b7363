"""OpenAI fine-tuning jobs as model runs, through the real `openai` client against the local stand-in for the
API (tests/fake_openai.py): a started job is a candidate named by its job id, polling records how it ended
(live, failed, rejected when cancelled) and counts it, a newer live answer model retires the older one, and
an example without a context gets one from the live index."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from freshrag.embedding import SentenceTransformerEmbedder
from freshrag.runtime import Runtime, build_runtime
from freshrag.settings import Settings
from freshrag.sources import WatchedFolder
from freshrag.state.registry import Backend, ModelRun, RunStatus
from freshrag.training.openai_runs import cancel_job, poll_jobs, start_job
from tests.fake_openai import FakeOpenAI, fake_openai

BASE_MODEL = "gpt-4o-mini-2024-07-18"
KETTLE = "Every kettle we sell carries a warranty of three years from the day of delivery."


def write_examples(path: Path, with_context: bool = True) -> Path:
    lines = []
    for i in range(12):
        example = {
            "question": f"How long is the warranty of model {i}?",
            "answer": f"{i + 1} years [w-{i}.md].",
        }
        if with_context:
            example["context"] = f"[w-{i}.md]\nModel {i} has a warranty of {i + 1} years."
        lines.append(json.dumps(example))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with fake_openai(api_key="sk-test") as server:
        yield server


@pytest.fixture
def start_runtime(
    make_settings: Callable[..., Settings], embedder: SentenceTransformerEmbedder, fake: FakeOpenAI
) -> Iterator[Callable[[Path], Runtime]]:
    started: list[Runtime] = []

    def start(examples: Path) -> Runtime:
        settings = make_settings(
            openai_api_key="sk-test", openai_base_url=fake.base_url, openai_examples=examples
        )
        started.append(build_runtime(settings, embedder=embedder))
        return started[-1]

    yield start
    for runtime in started:
        runtime.close()


@pytest.fixture
def runtime(start_runtime: Callable[[Path], Runtime], tmp_path: Path) -> Runtime:
    return start_runtime(write_examples(tmp_path / "curated.jsonl"))


def openai_runs(runtime: Runtime, outcome: str) -> float:
    value = runtime.metrics.registry.get_sample_value(
        "freshrag_finetune_runs_total", {"backend": "openai", "outcome": outcome}
    )
    assert value is not None
    return value


def poll_until_finished(runtime: Runtime, version: str) -> ModelRun:
    for _ in range(10):
        poll_jobs(runtime)
        current = runtime.registry.get(version)
        assert current is not None
        if current.status is not RunStatus.CANDIDATE:
            return current
    pytest.fail(f"job {version} still running after 10 polls")


def test_a_started_job_is_a_candidate_named_by_its_job_id(runtime: Runtime, fake: FakeOpenAI) -> None:
    run = start_job(runtime, "requested")
    assert list(fake.jobs) == [run.version]
    stored = runtime.registry.get(run.version)
    assert stored == run
    assert (run.backend, run.status, run.base_model) == (Backend.OPENAI, RunStatus.CANDIDATE, BASE_MODEL)
    assert (run.pairs, run.pair_sources, run.trigger) == (12, {"curated": 12}, "requested")
    assert run.job is not None
    assert run.job["status"] == "validating_files"
    assert run.fine_tuned_model is None
    uploaded = fake.files[fake.jobs[run.version].training_file].data.decode()
    assert "Model 7 has a warranty of 8 years." in uploaded
    # The embedding model that serves searches is untouched.
    assert runtime.models.live_version() == runtime.models.base.model_version


def test_a_job_polled_until_it_succeeded_goes_live_and_is_counted(runtime: Runtime, fake: FakeOpenAI) -> None:
    before = openai_runs(runtime, "promoted")
    version = start_job(runtime, "requested").version
    stages = []
    for _ in range(2):
        poll_jobs(runtime)
        current = runtime.registry.get(version)
        assert current is not None
        assert current.status is RunStatus.CANDIDATE
        stages.append(current.stage)
    assert stages == ["queued", "running"]

    done = poll_until_finished(runtime, version)
    assert done.status is RunStatus.LIVE
    assert done.fine_tuned_model == fake.jobs[version].fine_tuned_model
    assert done.fine_tuned_model is not None
    assert done.fine_tuned_model.startswith(f"ft:{BASE_MODEL}:")
    assert done.promoted_at is not None
    assert (done.stage, done.reason) == ("", None)
    assert done.job is not None
    assert done.job["events"][0] == "The job has successfully completed"
    assert openai_runs(runtime, "promoted") == before + 1
    live = runtime.registry.live(Backend.OPENAI)
    assert live is not None
    assert live.version == version
    assert runtime.models.live_version() == runtime.models.base.model_version

    calls = len(fake.requests)
    assert poll_jobs(runtime) == []  # nothing runs any more: no request
    assert len(fake.requests) == calls
    assert openai_runs(runtime, "promoted") == before + 1


def test_a_second_job_that_succeeds_retires_the_first(runtime: Runtime) -> None:
    first = poll_until_finished(runtime, start_job(runtime, "requested").version)
    second = poll_until_finished(runtime, start_job(runtime, "requested").version)
    assert second.status is RunStatus.LIVE
    retired = runtime.registry.get(first.version)
    assert retired is not None
    assert retired.status is RunStatus.RETIRED
    assert retired.retired_at is not None
    assert retired.fine_tuned_model == first.fine_tuned_model  # still known, to go back to by hand
    live = runtime.registry.live(Backend.OPENAI)
    assert live is not None
    assert live.version == second.version
    assert openai_runs(runtime, "promoted") == 2


def test_a_cancelled_job_is_rejected_as_cancelled(runtime: Runtime, fake: FakeOpenAI) -> None:
    version = start_job(runtime, "requested").version
    poll_jobs(runtime)
    cancelled = cancel_job(runtime, version)
    assert (cancelled.status, cancelled.reason) == (RunStatus.REJECTED, "cancelled")
    stored = runtime.registry.get(version)
    assert stored is not None
    assert (stored.status, stored.reason, stored.stage) == (RunStatus.REJECTED, "cancelled", "")
    assert fake.jobs[version].status == "cancelled"
    assert openai_runs(runtime, "rejected") == 1
    assert poll_jobs(runtime) == []  # a cancelled job is not polled again
    assert runtime.registry.live(Backend.OPENAI) is None


def test_cancelling_something_that_is_no_openai_job_names_it(runtime: Runtime) -> None:
    with pytest.raises(ValueError, match="no OpenAI fine-tuning job 'ftjob-unknown'"):
        cancel_job(runtime, "ftjob-unknown")
    base = runtime.models.base.model_version
    with pytest.raises(ValueError, match=base):
        cancel_job(runtime, base)


def test_a_job_openai_fails_is_failed_with_its_error(runtime: Runtime, fake: FakeOpenAI) -> None:
    version = start_job(runtime, "requested").version
    problem = "Invalid file format. Line 3, message 2: content must be a non-empty string."
    fake.jobs[version].problem = problem  # what OpenAI's own validation finds, after the upload
    done = poll_until_finished(runtime, version)
    assert done.status is RunStatus.FAILED
    assert done.reason == problem
    assert done.fine_tuned_model is None
    assert openai_runs(runtime, "failed") == 1
    assert openai_runs(runtime, "promoted") == 0
    assert runtime.registry.live(Backend.OPENAI) is None


def test_an_example_without_a_context_gets_one_from_the_live_index(
    start_runtime: Callable[[Path], Runtime], fake: FakeOpenAI, tmp_path: Path
) -> None:
    runtime = start_runtime(write_examples(tmp_path / "curated.jsonl", with_context=False))
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "warranty.md").write_text(f"# Warranty\n\n{KETTLE}\n", encoding="utf-8")
    assert runtime.indexer.apply(WatchedFolder.of(docs).change_for("warranty.md")).outcome == "indexed"

    run = start_job(runtime, "requested")
    uploaded = fake.files[fake.jobs[run.version].training_file].data.decode()
    examples = [json.loads(line) for line in uploaded.splitlines()]
    assert len(examples) == 12
    for example in examples:
        user = example["messages"][1]["content"]
        assert user.startswith("Context:\n")
        assert KETTLE in user
        assert "Question: How long is the warranty of model" in user


def test_no_examples_configured_is_an_error_naming_the_setting(
    make_settings: Callable[..., Settings], embedder: SentenceTransformerEmbedder, fake: FakeOpenAI
) -> None:
    runtime = build_runtime(
        make_settings(openai_api_key="sk-test", openai_base_url=fake.base_url), embedder=embedder
    )
    try:
        with pytest.raises(ValueError, match="FRESHRAG_OPENAI_EXAMPLES"):
            start_job(runtime, "requested")
        assert fake.requests == []
        assert [run.backend for run in runtime.registry.runs()] == [Backend.BASE]
    finally:
        runtime.close()
