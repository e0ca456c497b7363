"""What the HTTP API hands out and takes in, through the real app on a real runtime: every document id it
answers with can be fetched, bodies are limited on every route, users' queries stay behind the admin token,
and nothing a client sends is echoed at length."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from freshrag.runtime import Runtime, build_runtime
from freshrag.settings import Settings
from freshrag.sources import WatchedFolder
from services.api import create_app
from services.api.webhooks import SOURCE_SHOWN_CHARS


@pytest.fixture
def start_runtime(
    make_settings: Callable[..., Settings], embedder: object
) -> Iterator[Callable[..., Runtime]]:
    started: list[Runtime] = []

    def start(**overrides: object) -> Runtime:
        runtime = build_runtime(make_settings(**overrides), embedder=embedder)  # type: ignore[arg-type]
        started.append(runtime)
        return runtime

    yield start
    for runtime in started:
        runtime.close()


def test_an_unknown_webhook_source_is_echoed_only_in_part(
    runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    name = "x" * 3000
    with TestClient(create_app(runtime)) as client, caplog.at_level(logging.WARNING):
        response = client.post(f"/webhooks/{name}", json={})
    assert response.status_code == 404
    assert "x" * (SOURCE_SHOWN_CHARS + 1) not in response.text
    assert "x" * SOURCE_SHOWN_CHARS in response.json()["detail"]
    assert all("x" * (SOURCE_SHOWN_CHARS + 1) not in record.getMessage() for record in caplog.records)


def test_every_document_id_the_api_hands_out_can_be_fetched(runtime: Runtime, tmp_path: Path) -> None:
    # No "%" in these names: Starlette's TestClient decodes the path twice (uvicorn decodes it once).
    folder = WatchedFolder.of(tmp_path / "docs")
    folder.path.mkdir()
    names = [
        "line\nbreak.txt",
        "ends-with-newline.txt\n",
        "ends-with-newline.txt",
        "hash#and?query.txt",
        "tab\tand space.txt",
    ]
    for number, name in enumerate(names):
        (folder.path / name).write_text(f"Lighthouse keeper log entry {number}.")
        # "….txt\n" is skipped (no parser for ".txt\n"), and recorded: its id is handed out too.
        assert runtime.indexer.apply(folder.change_for(name)).outcome in ("indexed", "skipped")
    with TestClient(create_app(runtime)) as client:
        listed = [document["doc_id"] for document in client.get("/documents").json()["documents"]]
        assert len(listed) == len(names)
        for doc_id in listed:
            response = client.get(f"/documents/{quote(doc_id, safe='/:')}")
            assert response.status_code == 200, (doc_id, response.text)
            assert response.json()["doc_id"] == doc_id


ADMIN_TOKEN = "a-long-enough-admin-token"  # noqa: S105  (a test token)


def flush_query_log(runtime: Runtime) -> None:
    """Wait for the searches so far to reach the query log (written off the search path, within moments)."""
    assert runtime.search.activity is not None
    runtime.search.activity.flush()


def test_users_queries_are_shown_only_with_the_admin_token(start_runtime: Callable[..., Runtime]) -> None:
    runtime = start_runtime(api_token=ADMIN_TOKEN)
    runtime.search.search("why do zebras have stripes", 3, record=True)  # nothing indexed: a gap
    flush_query_log(runtime)
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    with TestClient(create_app(runtime)) as client:
        assert client.get("/knowledge-gaps").status_code == 401
        assert client.get("/knowledge-gaps", headers={"Authorization": "Bearer wrong"}).status_code == 401
        for path in ("/status", "/"):
            anonymous = client.get(path)
            assert anonymous.status_code == 200
            assert "zebras" not in anonymous.text, path
        assert "1 low-scoring" in client.get("/").text  # how many, not what
        for path in ("/knowledge-gaps", "/status", "/"):
            assert "zebras" in client.get(path, headers=admin).text, path


def test_without_a_token_loopback_callers_see_the_queries(runtime: Runtime) -> None:
    runtime.search.search("why do zebras have stripes", 3, record=True)
    flush_query_log(runtime)
    with TestClient(create_app(runtime)) as client:
        for path in ("/knowledge-gaps", "/status", "/"):
            assert "zebras" in client.get(path).text, path


def test_every_route_limits_its_body_and_webhooks_keep_their_own_limit(
    start_runtime: Callable[..., Runtime],
) -> None:
    runtime = start_runtime(
        max_request_bytes=4096, webhook_max_bytes=100_000, webhooks={"generic": {"accept_unsigned": True}}
    )

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit must hold while streaming
        for _ in range(100):
            yield b" " * 1024

    json_type = {"content-type": "application/json"}
    with TestClient(create_app(runtime)) as client:
        for path in ("/feedback", "/search", "/admin/reconcile"):
            declared = client.post(path, content=b" " * 5000, headers=json_type)
            assert declared.status_code == 413, (path, declared.text)
            assert "FRESHRAG_MAX_REQUEST_BYTES" in declared.json()["detail"]
        streamed = client.post("/feedback", content=chunks(), headers=json_type)
        # TestClient reads the whole body before calling the app: tests/unit/test_body_limit.py shows the
        # cut-off happening as the body arrives.
        assert streamed.status_code == 413
        small = client.post("/feedback", json={"query": "q", "doc_id": "nowhere"})
        assert small.status_code == 404  # within the limit: the route answers
        webhook = client.post("/webhooks/generic", content=b" " * 50_000 + b"{}", headers=json_type)
        assert webhook.status_code != 413, webhook.text
