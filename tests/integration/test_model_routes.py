"""The model registry over HTTP, on the real app, model and store: `GET /models`, the admin routes that start
a fine-tune, switch or cancel (and what they refuse, with which status), the bearer token in front of them,
feedback counted on /metrics, and a body that is not UTF-8 answered 422."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from freshrag.embedding import SentenceTransformerEmbedder
from freshrag.queue import QUEUES, make_client
from freshrag.runtime import Runtime, build_runtime
from freshrag.settings import Settings
from freshrag.sources import WatchedFolder
from freshrag.state.registry import Backend, ModelRun, RunStatus
from services.api import create_app
from services.api.schemas import ModelOut
from tests.fake_openai import fake_openai

TOKEN = "s3cret-admin-token"  # noqa: S105 (a test token)
ADMIN_ROUTES = [
    ("/admin/finetune", {"force": False}),
    ("/admin/finetune", {"backend": "openai"}),
    ("/admin/models/rollback", None),
    ("/admin/models/some-version/promote", None),
    ("/admin/models/ftjob-1/cancel", None),
    ("/admin/reconcile", None),
    ("/admin/dead-letters/replay", None),
]


def write_examples(path: Path) -> Path:
    """Twelve curated answers with their context (OpenAI needs at least ten)."""
    lines = [
        json.dumps(
            {
                "question": f"Warranty of model {i}?",
                "answer": f"{i} years.",
                "context": f"Model {i}: {i} years.",
            }
        )
        for i in range(12)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def start_runtime(
    make_settings: Callable[..., Settings], embedder: SentenceTransformerEmbedder
) -> Iterator[Callable[..., Runtime]]:
    started: list[Runtime] = []

    def start(**overrides: object) -> Runtime:
        started.append(build_runtime(make_settings(**overrides), embedder=embedder))
        return started[-1]

    yield start
    for runtime in started:
        with make_client(runtime.settings).connection_for_write() as connection:
            for queue in QUEUES:  # the in-memory broker is shared by the whole test process
                connection.default_channel.queue_purge(queue)
        runtime.close()


@pytest.fixture
def runtime(start_runtime: Callable[..., Runtime]) -> Runtime:
    return start_runtime()


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime)) as test_client:
        yield test_client


def later_run(runtime: Runtime, version: str, after: float, status: RunStatus) -> ModelRun:
    base = runtime.registry.runs()[0]
    return ModelRun(
        version=version,
        backend=Backend.LOCAL,
        status=status,
        created_at=base.created_at + after,
        base_model=base.base_model,
        reason="nDCG@10 0.6000 -> 0.6010 (+0.0010): short of the margin 0.005",
    )


def test_models_lists_the_base_model_as_live_with_every_field(runtime: Runtime, client: TestClient) -> None:
    response = client.get("/models")
    assert response.status_code == 200, response.text
    body = response.json()
    base = runtime.models.base.model_version
    assert body["live"] == base
    [model] = body["models"]
    assert set(model) == set(ModelOut.model_fields)
    assert (model["version"], model["backend"], model["status"]) == (base, "base", "live")
    assert model["base_model"] == runtime.settings.embedding_model
    assert model["collection"] == runtime.models.live_collection()
    assert model["path"] == str(runtime.models.base.model_dir)
    assert model["created_at"] > 0
    assert client.get(f"/models/{base}").json() == model


def test_models_are_listed_oldest_first(runtime: Runtime, client: TestClient) -> None:
    runtime.registry.put(later_run(runtime, "zz-newest", 20, RunStatus.REJECTED))
    runtime.registry.put(later_run(runtime, "aa-middle", 10, RunStatus.FAILED))
    models = client.get("/models").json()["models"]
    assert [model["version"] for model in models] == [
        runtime.models.base.model_version,
        "aa-middle",
        "zz-newest",
    ]
    assert models[2]["reason"] == "nDCG@10 0.6000 -> 0.6010 (+0.0010): short of the margin 0.005"
    assert models[1]["status"] == "failed"


def test_an_unknown_model_is_404_naming_it(client: TestClient) -> None:
    response = client.get("/models/unknown")
    assert response.status_code == 404
    assert "unknown" in response.json()["detail"]


def test_rollback_with_nothing_retired_is_409_saying_so(client: TestClient) -> None:
    response = client.post("/admin/models/rollback")
    assert response.status_code == 409
    assert response.json()["detail"] == "nothing to roll back to: no model has been retired yet"


def test_promoting_an_unknown_version_is_404_and_the_live_one_409(
    runtime: Runtime, client: TestClient
) -> None:
    response = client.post("/admin/models/nope/promote")
    assert response.status_code == 404
    detail = response.json()["detail"]
    assert "no model 'nope'" in detail
    assert runtime.models.base.model_version in detail  # the known versions, to pick from

    live = client.post(f"/admin/models/{runtime.models.base.model_version}/promote")
    assert live.status_code == 409
    assert "already live" in live.json()["detail"]


def test_finetune_unforced_without_feedback_starts_nothing(runtime: Runtime, client: TestClient) -> None:
    response = client.post("/admin/finetune", json={"force": False})
    assert response.status_code in (200, 202), response.text
    body = response.json()
    assert body["started"] is False
    assert body["reason"]
    assert [model["version"] for model in client.get("/models").json()["models"]] == [
        runtime.models.base.model_version
    ]


def test_finetune_forced_queues_one_run_at_a_time(runtime: Runtime, client: TestClient) -> None:
    response = client.post("/admin/finetune", json={})
    assert response.status_code == 202, response.text
    body = response.json()
    assert (body["started"], body["reason"]) == (True, "requested")
    queued = client.get(f"/models/{body['version']}").json()
    assert (queued["status"], queued["backend"], queued["stage"]) == ("candidate", "local", "queued")
    assert queued["parent"] == runtime.models.base.model_version

    again = client.post("/admin/finetune", json={})
    assert again.status_code == 409
    assert body["version"] in again.json()["detail"]
    assert len(client.get("/models").json()["models"]) == 2


def test_finetune_openai_without_examples_is_400_naming_the_setting(client: TestClient) -> None:
    response = client.post("/admin/finetune", json={"backend": "openai"})
    assert response.status_code == 400
    assert "FRESHRAG_OPENAI_EXAMPLES" in response.json()["detail"]


def test_admin_routes_need_the_bearer_token(start_runtime: Callable[..., Runtime]) -> None:
    runtime = start_runtime(api_token=TOKEN)
    with TestClient(create_app(runtime)) as client:
        for path, body in ADMIN_ROUTES:
            for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
                response = client.post(path, json=body, headers=headers)
                assert response.status_code == 401, (path, headers, response.text)
                assert "FRESHRAG_API_TOKEN" in response.json()["detail"]
        assert client.get("/models").status_code == 200  # reading is for everyone
        authorised = client.post("/admin/models/rollback", headers={"Authorization": f"Bearer {TOKEN}"})
        assert authorised.status_code == 409  # past the token, to the route's own answer
    assert [run.backend for run in runtime.registry.runs()] == [Backend.BASE]  # nothing was started


def test_finetune_openai_starts_a_job_shown_as_a_candidate(
    start_runtime: Callable[..., Runtime], tmp_path: Path
) -> None:
    with fake_openai(api_key="sk-test") as fake:
        runtime = start_runtime(
            openai_api_key="sk-test",
            openai_base_url=fake.base_url,
            openai_examples=write_examples(tmp_path / "curated.jsonl"),
        )
        with TestClient(create_app(runtime)) as client:
            response = client.post("/admin/finetune", json={"backend": "openai"})
            assert response.status_code == 202, response.text
            body = response.json()
            assert body["started"] is True
            assert list(fake.jobs) == [body["version"]]
            listed = client.get("/models").json()
            assert listed["live"] == runtime.models.base.model_version  # searches keep their model
            job = listed["models"][-1]
            assert (job["version"], job["backend"], job["status"]) == (body["version"], "openai", "candidate")
            assert job["base_model"] == runtime.settings.openai_model
            assert job["pairs"] == 12

            cancelled = client.post(f"/admin/models/{body['version']}/cancel")
            assert cancelled.status_code == 200, cancelled.text
            assert (cancelled.json()["status"], cancelled.json()["reason"]) == ("rejected", "cancelled")
            assert client.get(f"/models/{body['version']}").json()["status"] == "rejected"
            assert fake.jobs[body["version"]].status == "cancelled"

            unknown = client.post("/admin/models/ftjob-nope/cancel")
            assert unknown.status_code == 404
            assert "ftjob-nope" in unknown.json()["detail"]


def feedback_samples(client: TestClient) -> dict[str, float]:
    families = text_string_to_metric_families(client.get("/metrics").text)
    return {
        sample.labels["relevant"]: sample.value
        for family in families
        if family.name == "freshrag_feedback"
        for sample in family.samples
        if sample.name == "freshrag_feedback_total"
    }


def test_feedback_on_an_indexed_document_is_counted_on_metrics(
    runtime: Runtime, client: TestClient, tmp_path: Path
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "kettle.md").write_text(
        "# Kettles\n\nEvery kettle carries a three-year warranty.\n", encoding="utf-8"
    )
    change = WatchedFolder.of(docs).change_for("kettle.md")
    assert runtime.indexer.apply(change).outcome == "indexed"
    assert feedback_samples(client) == {"true": 0.0, "false": 0.0}

    response = client.post("/feedback", json={"query": "kettle warranty", "doc_id": change.doc_id})
    assert response.status_code == 202, response.text
    assert feedback_samples(client) == {"true": 1.0, "false": 0.0}
    assert runtime.feedback.count() == 1


@pytest.mark.parametrize("body", [b'{"query": "caf\xe9"}', b"\x80"])
def test_a_search_body_that_is_not_utf8_is_a_client_error(runtime: Runtime, body: bytes) -> None:
    """FastAPI's own 422 echoes the raw body and fails (a 500) on bytes that are not UTF-8."""
    with TestClient(create_app(runtime), raise_server_exceptions=False) as client:
        for headers in ({"content-type": "text/plain"}, {}):
            response = client.post("/search", content=body, headers=headers)
            assert response.status_code == 422, response.text
            assert response.json()["detail"][0]["loc"] == ["body"]
        as_json = client.post("/search", content=body, headers={"content-type": "application/json"})
        assert as_json.status_code == 400, as_json.text  # FastAPI: "There was an error parsing the body"
