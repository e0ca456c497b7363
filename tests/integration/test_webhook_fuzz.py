"""Fuzzing `POST /webhooks/{source}`: whatever arrives (any source name, content type, header or body,
including the real sample payloads with parts replaced by random JSON), the answer is never a 5xx and
the process keeps serving. Signed deliveries whose rich text is nested thousands deep or is huge, which
the text renderers take in before the answer, are answered 202 or 400 too."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from freshrag.webhooks.platforms import SOURCES
from services.api import create_app
from tests.cms import SECRETS, all_samples, sign
from tests.conftest import SHARED_DATA
from tests.integration.conftest import System

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


# Rich text is written as JSON text, in place of this value: json.dumps would recurse as deep as the nesting.
RICH_TEXT = "rich text"
CF_TEXT = '{"nodeType": "text", "value": "innermost", "marks": [], "data": {}}'
STRAPI_TEXT = '{"type": "text", "text": "innermost"}'


def _nested(depth: int, opening: str, inner: str, closing: str) -> str:
    return opening * depth + inner + closing * depth


def _contentful(rich_text: str) -> tuple[str, str, dict[str, str]]:
    sys = {
        "type": "Entry",
        "id": "deep",
        "contentType": {"sys": {"id": "page"}},
        "updatedAt": "2024-05-01T12:00:00Z",
    }
    entry = {"sys": sys, "fields": {"title": {"en-US": "Deep"}, "body": {"en-US": RICH_TEXT}}}
    document = f'{{"nodeType": "document", "data": {{}}, "content": [{rich_text}]}}'
    topic = {"X-Contentful-Topic": "ContentManagement.Entry.publish"}
    return "contentful", json.dumps(entry).replace(json.dumps(RICH_TEXT), document), topic


def _strapi(blocks: str) -> tuple[str, str, dict[str, str]]:
    entry = {
        "id": 7,
        "documentId": "deep",
        "title": "Deep",
        "publishedAt": "2024-05-01T12:00:00Z",
        "body": RICH_TEXT,
    }
    event = {
        "event": "entry.publish",
        "createdAt": "2024-05-01T12:00:00Z",
        "model": "article",
        "entry": entry,
    }
    return "strapi", json.dumps(event).replace(json.dumps(RICH_TEXT), f"[{blocks}]"), {}


def _generic(field: str, value: str) -> tuple[str, str, dict[str, str]]:
    data = {"id": "deep", "content_type": "faq", "title": "Deep", field: RICH_TEXT}
    payload = {"type": "document.updated", "timestamp": "2024-05-01T12:00:00Z", "data": data}
    return "generic", json.dumps(payload).replace(json.dumps(RICH_TEXT), value), {}


def _portable_text_block(level: int) -> str:
    span = {"_type": "span", "_key": "s", "text": "innermost", "marks": []}
    block = {"_type": "block", "_key": "b", "style": "normal", "listItem": "bullet", "level": level}
    return json.dumps({**block, "markDefs": [], "children": [span]})


# What the renderers are handed inside the request: 400 levels of nesting still parse as JSON (and broke
# the recursive renderers), 2,000 do not; a Portable Text level allocated a list level each; each <li>
# counted its preceding siblings; the HTML parser is quadratic in the nesting depth.
DELIVERIES: dict[str, Callable[[], tuple[str, str, dict[str, str]]]] = {
    "contentful-hyperlinks-400": lambda: _contentful(
        _nested(400, '{"nodeType": "hyperlink", "data": {}, "content": [', CF_TEXT, "]}")
    ),
    "contentful-lists-2000": lambda: _contentful(
        _nested(
            2000,
            '{"nodeType": "unordered-list", "data": {}, "content": [{"nodeType": "list-item", "content": [',
            CF_TEXT,
            "]}]}",
        )
    ),
    "strapi-links-400": lambda: _strapi(
        _nested(400, '{"type": "link", "url": "/", "children": [', STRAPI_TEXT, "]}")
    ),
    "strapi-lists-2000": lambda: _strapi(
        _nested(2000, '{"type": "list", "format": "ordered", "children": [', STRAPI_TEXT, "]}")
    ),
    "generic-portable-text-level-1e9": lambda: _generic("text", f"[{_portable_text_block(10**9)}]"),
    "generic-portable-text-2000": lambda: _generic(
        "text", "[" + _nested(2000, '{"_type": "block", "children": [', '{"_type": "span"}', "]}") + "]"
    ),
    "generic-html-ol-2000": lambda: _generic("html", json.dumps("<ol>" + "<li>item</li>" * 2_000 + "</ol>")),
    "generic-html-nested-2000": lambda: _generic(
        "html", json.dumps("<div><blockquote>" * 1000 + "innermost")
    ),
    "generic-html-nested-100000": lambda: _generic("html", json.dumps("<ul><li>" * 100_000 + "innermost")),
}


@pytest.fixture
def signed_client(start_system: Callable[..., System]) -> Iterator[TestClient]:
    system = start_system(**{f"webhook_secret_{source}": secret for source, secret in SECRETS.items()})
    with TestClient(create_app(system.runtime), raise_server_exceptions=True) as test_client:
        yield test_client


@pytest.mark.parametrize("name", DELIVERIES)
def test_deep_or_huge_rich_text_gets_no_server_error(signed_client: TestClient, name: str) -> None:
    source, payload, headers = DELIVERIES[name]()
    body = payload.encode()
    target = f"/webhooks/{source}"
    signed = sign(source, body, SECRETS[source], now=time.time(), target=target, headers=headers)
    response = signed_client.post(
        target, content=body, headers={**signed, "content-type": "application/json"}
    )
    assert response.status_code in (202, 400), (response.status_code, response.text)
    assert signed_client.get("/healthz").status_code == 200
