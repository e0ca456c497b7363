"""Fuzzing `POST /webhooks/{source}`: whatever arrives (any source name, content type, header or body,
including the real sample payloads with parts replaced by random JSON), the answer is never a 5xx and
the process keeps serving."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from freshrag.webhooks.config import SOURCES
from services.api import create_app
from tests.conftest import SHARED_DATA
from tests.integration.conftest import System
from tests.webhook_samples import all_samples

POSTS = [sample.post for sample in all_samples(SHARED_DATA)] if SHARED_DATA.is_dir() else []
HEADER_NAMES = [
    "x-contentful-topic", "x-contentful-signature", "x-contentful-timestamp", "x-contentful-signed-headers",
    "sanity-operation", "sanity-webhook-signature", "x-ghost-signature", "x-wp-webhook-name",
    "x-wp-webhook-signature", "x-github-event", "x-hub-signature-256", "x-github-delivery", "webhook-id",
    "webhook-timestamp", "webhook-signature", "authorization", "sanity-transaction-time",
]  # fmt: skip
ALLOWED = {200, 202, 400, 401, 404, 413, 415}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
header_values = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=60)


@st.composite
def mutated_sample(draw: st.DrawFn) -> tuple[str, bytes, dict[str, str]]:
    """A real sample payload with up to three of its values replaced by random JSON."""
    post = draw(st.sampled_from(POSTS))
    payload: Any = json.loads(json.dumps(post.payload))
    for _ in range(draw(st.integers(0, 3))):
        payload = _replace_somewhere(draw, payload)
    return post.source, json.dumps(payload).encode(), dict(post.headers)


def _replace_somewhere(draw: st.DrawFn, node: Any) -> Any:
    if isinstance(node, dict) and node and draw(st.booleans()):
        key = draw(st.sampled_from(sorted(node)))
        node[key] = _replace_somewhere(draw, node[key])
        return node
    if isinstance(node, list) and node and draw(st.booleans()):
        index = draw(st.integers(0, len(node) - 1))
        node[index] = _replace_somewhere(draw, node[index])
        return node
    return draw(json_values)


arbitrary = st.tuples(
    st.sampled_from([*SOURCES, "unknown", ""]) | st.text(max_size=10),
    st.binary(max_size=300) | json_values.map(lambda value: json.dumps(value).encode()),
    st.dictionaries(st.sampled_from(HEADER_NAMES), header_values, max_size=4),
)


@pytest.fixture
def client(start_system: Callable[..., System]) -> Iterator[TestClient]:
    unsigned = {source: {"accept_unsigned": True} for source in SOURCES}
    system = start_system(webhooks=unsigned)
    # raise_server_exceptions: an unhandled error fails the test instead of turning into a 500.
    with TestClient(create_app(system.runtime), raise_server_exceptions=True) as test_client:
        yield test_client


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(delivery=mutated_sample() | arbitrary, content_type=st.sampled_from(
    ["application/json", "application/json; charset=utf-8", "application/vnd.contentful.management.v1+json",
     "application/x-www-form-urlencoded", "text/plain", ""]))  # fmt: skip
def test_no_delivery_gets_a_server_error(
    client: TestClient, delivery: tuple[str, bytes, dict[str, str]], content_type: str
) -> None:
    source, body, headers = delivery
    headers = {**headers, "content-type": content_type} if content_type else headers
    response = client.post(f"/webhooks/{quote(source, safe='')}", content=body, headers=headers)
    assert response.status_code in ALLOWED, (response.status_code, response.text)
    assert client.get("/healthz").status_code == 200
