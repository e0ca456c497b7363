"""What the HTTP API hands out and takes in, through the real app on a real runtime: every document id it
answers with can be fetched, bodies are limited on every route, users' queries stay behind the admin token,
and nothing a client sends is echoed at length."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from freshrag.runtime import Runtime, build_runtime
from freshrag.settings import Settings
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
