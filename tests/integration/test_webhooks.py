"""CMS webhooks through the real API app, in-process worker, model and local Qdrant: every sample payload
of ../shared/data/webhooks (with our text in it) becomes searchable and its removal removes it; forged,
stale, replayed or malformed deliveries change nothing; older versions never overwrite newer ones."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient

from freshrag.documents import DocStatus
from freshrag.webhooks.intake import WebhookIntake
from freshrag.webhooks.model import Delivery
from services.api import create_app
from tests.cms import QUERY, SECRETS, TEXT, Post, Sample, all_samples, deliver
from tests.cms.ghost import samples as ghost_samples
from tests.conftest import SHARED_DATA, eventually
from tests.integration.conftest import System
from tests.redis_server import RedisServer

SAMPLES = all_samples(SHARED_DATA) if SHARED_DATA.is_dir() else []
SECRET_SETTINGS = {f"webhook_secret_{source}": secret for source, secret in SECRETS.items()}


@pytest.fixture
def system(start_system: Callable[..., System]) -> System:
    return start_system(**SECRET_SETTINGS)


@pytest.fixture
def client(system: System) -> Iterator[TestClient]:
    with TestClient(create_app(system.runtime)) as test_client:
        yield test_client


def found(system: System, query: str = QUERY) -> set[str]:
    """Documents whose chunks with our text come back for the query."""
    hits = system.runtime.search.search(query, 10).results
    return {hit.doc_id for hit in hits if TEXT[:40] in hit.text}


def test_the_shared_samples_are_all_here() -> None:
    assert len(SAMPLES) >= 18, "../shared/data/webhooks is missing or incomplete"


@pytest.mark.parametrize("sample", SAMPLES, ids=[sample.name for sample in SAMPLES])
def test_a_sample_delivery_becomes_searchable_and_its_removal_removes_it(
    sample: Sample, system: System, client: TestClient
) -> None:
    response = deliver(client.post, sample.post)
    if not sample.doc_ids:
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "ignored"
        assert response.json()["reason"]
        assert set(system.runtime.store.count_records().values()) <= {0}
        return
    assert response.status_code == 202, response.text
    assert set(response.json()["documents"]) == set(sample.doc_ids)
    eventually(lambda: found(system) == set(sample.doc_ids))
    for doc_id in sample.doc_ids:
        document = client.get(f"/documents/{doc_id}").json()
        assert document["status"] == "indexed"
        assert document["source_kind"] == "cms"
    assert sample.removal is not None
    response = deliver(client.post, sample.removal)
    assert response.status_code == 202, response.text
    eventually(lambda: not found(system))
    for doc_id in sample.doc_ids:
        assert client.get(f"/documents/{doc_id}").json()["status"] == "deleted"


GHOST = ghost_samples(SHARED_DATA / "webhooks")[0] if SHARED_DATA.is_dir() else None


def _ghost_body() -> bytes:
    assert GHOST is not None
    return json.dumps(GHOST.post.payload).encode()


def _signed(secret: str = SECRETS["ghost"], now: float | None = None) -> dict[str, str]:
    from tests.cms import sign

    headers = sign("ghost", _ghost_body(), secret, now=time.time() if now is None else now)
    return headers | {"content-type": "application/json"}


@pytest.mark.parametrize(
    ("case", "make"),
    [
        ("tampered body", lambda: (_ghost_body().replace(b"Brindlewood", b"Brandywood"), _signed())),
        ("wrong secret", lambda: (_ghost_body(), _signed(secret="not-the-secret"))),
        ("stale timestamp", lambda: (_ghost_body(), _signed(now=time.time() - 301))),
        ("timestamp from the future", lambda: (_ghost_body(), _signed(now=time.time() + 301))),
        ("missing signature", lambda: (_ghost_body(), {"content-type": "application/json"})),
    ],
)
def test_a_forged_or_stale_delivery_is_refused_and_changes_nothing(
    case: str, make: Callable[[], tuple[bytes, dict[str, str]]], system: System, client: TestClient
) -> None:
    body, headers = make()
    response = client.post("/webhooks/ghost", content=body, headers=headers)
    assert response.status_code == 401, (case, response.text)
    assert response.json()["detail"]
    time.sleep(0.3)
    assert set(system.runtime.store.count_records().values()) <= {0}
    assert system.runtime.journal.unapplied(time.time()) == []
    assert (
        'freshrag_webhook_deliveries_total{outcome="unauthorized",source="ghost"} 1.0'
        in client.get("/metrics").text
    )


def test_a_source_without_a_secret_is_refused_unless_it_accepts_unsigned_deliveries(
    start_system: Callable[..., System],
) -> None:
    assert GHOST is not None
    system = start_system(webhooks={"ghost": {"accept_unsigned": False}})
    with TestClient(create_app(system.runtime)) as client:
        response = client.post(
            "/webhooks/ghost", content=_ghost_body(), headers={"content-type": "application/json"}
        )
        assert response.status_code == 401
        assert "FRESHRAG_WEBHOOK_SECRET_GHOST" in response.json()["detail"]
    system.stop()
    open_system = start_system(webhooks={"ghost": {"accept_unsigned": True}})
    with TestClient(create_app(open_system.runtime)) as client:
        response = client.post(
            "/webhooks/ghost", content=_ghost_body(), headers={"content-type": "application/json"}
        )
        assert response.status_code == 202
    eventually(lambda: found(open_system) == set(GHOST.doc_ids))  # fmt: skip


def test_a_replayed_delivery_is_acknowledged_and_not_applied_twice(
    system: System, client: TestClient
) -> None:
    headers = _signed()
    first = client.post("/webhooks/ghost", content=_ghost_body(), headers=headers)
    assert first.status_code == 202
    eventually(lambda: found(system))
    runs = system.index_runs()
    again = client.post("/webhooks/ghost", content=_ghost_body(), headers=headers)
    assert again.status_code == 200
    assert again.json()["status"] == "duplicate"
    time.sleep(0.5)
    assert system.index_runs() == runs


def generic(entry_id: str, text: str, **data: Any) -> Post:
    payload = {"type": "document.updated", "data": {"id": entry_id, "title": "Note", "text": text, **data}}
    return Post("generic", payload)


def test_an_older_version_never_overwrites_a_newer_one(system: System, client: TestClient) -> None:
    newer = generic("n1", f"{TEXT} Version seven of the note.", version=7)
    older = generic("n1", "An outdated draft about something else entirely.", version=3)
    assert deliver(client.post, newer).status_code == 202
    eventually(lambda: found(system) == {"generic:document:n1"})
    response = deliver(client.post, older)
    assert response.status_code == 200
    assert response.json()["status"] == "stale"
    time.sleep(0.5)
    record = system.runtime.store.get_record("generic:document:n1")
    assert record is not None
    assert record.source_version == 7
    assert found(system) == {"generic:document:n1"}


def test_deliveries_coalesced_into_one_index_run_are_all_marked_applied(
    system: System, client: TestClient
) -> None:
    assert deliver(client.post, generic("c1", f"{TEXT} First.", version=1)).status_code == 202
    eventually(lambda: found(system) == {"generic:document:c1"})
    # within the re-index interval of that run: the second waits for it, the third rides along
    assert deliver(client.post, generic("c1", f"{TEXT} Second.", version=2)).status_code == 202
    assert deliver(client.post, generic("c1", f"{TEXT} Third.", version=3)).status_code == 202
    eventually(
        lambda: (
            (record := system.runtime.store.get_record("generic:document:c1")) and record.source_version == 3
        )
    )
    eventually(system.settled)
    # nothing left for the start-up or the scheduled sweep to send again
    eventually(lambda: system.runtime.journal.unapplied(time.time()) == [], timeout=5)


def test_an_unpublished_locale_disappears_while_the_others_stay(system: System, client: TestClient) -> None:
    sys = {"id": "e1", "type": "Entry", "contentType": {"sys": {"id": "article"}}}
    topic = {"X-Contentful-Topic": "ContentManagement.Entry.publish"}
    fields = {"title": {"en-US": "Aqueduct", "de-DE": "Aquädukt"}, "body": {"en-US": TEXT, "de-DE": TEXT}}
    both = {"sys": {**sys, "updatedAt": "2024-01-01T00:00:00Z"}, "fields": fields}
    assert deliver(client.post, Post("contentful", both, topic)).status_code == 202
    ids = {"contentful:article:e1:en-US", "contentful:article:e1:de-DE"}
    eventually(lambda: found(system) == ids)
    english = {"sys": {**sys, "updatedAt": "2024-01-02T00:00:00Z"},
               "fields": {"title": {"en-US": "Aqueduct"}, "body": {"en-US": TEXT}}}  # fmt: skip
    assert deliver(client.post, Post("contentful", english, topic)).status_code == 202
    eventually(lambda: found(system) == {"contentful:article:e1:en-US"})


@pytest.mark.parametrize(
    ("body", "content_type", "status", "detail"),
    [
        (b"{not json", "application/json", 400, "not valid JSON"),
        (b'{"type": "document.updated"}', "application/json", 400, "'data'"),
        (b'{"type": "document.exploded", "data": {"id": "1"}}', "application/json", 400, "'type'"),
        (b"[1, 2, 3]", "application/json", 400, "'type'"),
        (b'{"type": "document.updated", "data": {"id": "1"}}', "text/plain", 415, "application/json"),
    ],
)
def test_a_malformed_delivery_is_refused_with_the_field_named(
    body: bytes, content_type: str, status: int, detail: str, start_system: Callable[..., System]
) -> None:
    system = start_system(webhooks={"generic": {"accept_unsigned": True}})
    with TestClient(create_app(system.runtime)) as client:
        response = client.post("/webhooks/generic", content=body, headers={"content-type": content_type})
    assert response.status_code == status, response.text
    assert detail in response.json()["detail"]
    assert set(system.runtime.store.count_records().values()) <= {0}


def test_an_oversized_body_is_refused_while_it_is_read(start_system: Callable[..., System]) -> None:
    system = start_system(webhooks={"generic": {"accept_unsigned": True}}, webhook_max_bytes=4096)
    sent = []

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit must hold while streaming
        for _ in range(1000):
            sent.append(1)
            yield b" " * 1024

    with TestClient(create_app(system.runtime)) as client:
        response = client.post(
            "/webhooks/generic", content=chunks(), headers={"content-type": "application/json"}
        )
        assert response.status_code == 413
        declared = client.post(
            "/webhooks/generic", content=b"x" * 5000, headers={"content-type": "application/json"}
        )
        assert declared.status_code == 413
        assert client.post("/webhooks/nowhere", json={}).status_code == 404


def test_webhooks_on_redis_keep_the_journal_in_redis(
    redis_server: RedisServer, start_system: Callable[..., System]
) -> None:
    assert GHOST is not None
    system = start_system(broker_url=redis_server.url, **SECRET_SETTINGS)
    with TestClient(create_app(system.runtime)) as client:
        assert deliver(client.post, GHOST.post).status_code == 202
        eventually(lambda: found(system) == set(GHOST.doc_ids))
        assert system.runtime.journal.get(GHOST.doc_ids[0]) is not None
        eventually(lambda: system.runtime.journal.unapplied(time.time()) == [])
        redis_server.stop()
        response = deliver(client.post, GHOST.removal or GHOST.post)
        assert response.status_code == 503
        assert response.headers["retry-after"]
        redis_server.start()
        assert deliver(client.post, GHOST.removal or GHOST.post).status_code == 202
        eventually(lambda: not found(system))
    record = system.runtime.store.get_record(GHOST.doc_ids[0])
    assert record is not None
    assert record.status is DocStatus.DELETED


def test_a_directus_update_keeps_what_it_does_not_carry_and_archiving_removes(
    system: System, client: TestClient
) -> None:
    def directus(action: str, fields: dict[str, Any]) -> Any:
        payload = {"event": f"articles.items.{action}", "collection": "articles", "key": 7, "payload": fields}
        response = deliver(client.post, Post("directus", payload))
        assert response.status_code == 202, response.text
        return response

    def document() -> dict[str, Any]:
        answer: dict[str, Any] = client.get("/documents/directus:articles:7").json()
        return answer

    directus("create", {"title": "Aqueducts of Valmora", "content": TEXT, "status": "published"})
    eventually(lambda: found(system) == {"directus:articles:7"})
    directus("update", {"title": "The Brindlewood aqueduct"})  # Directus sends the changed fields only
    eventually(lambda: document()["title"] == "The Brindlewood aqueduct")
    assert found(system) == {"directus:articles:7"}, "the update without the text lost the text"
    directus("update", {"status": "archived"})
    eventually(lambda: document()["status"] == "deleted")
    assert not found(system)
    # an edit of an unpublished item that does not say it publishes it leaves it unpublished
    payload = {
        "event": "articles.items.update",
        "collection": "articles",
        "keys": [7],
        "payload": {"title": "x"},
    }
    edited = deliver(client.post, Post("directus", payload))
    assert edited.status_code == 202, edited.text
    eventually(system.settled)
    assert not found(system)
    directus("update", {"status": "published"})  # restored from the archive: Directus sends the status only
    eventually(lambda: found(system) == {"directus:articles:7"})
    assert document()["title"] == "x"


def directus_item(client: TestClient, action: str, key: int, fields: dict[str, Any]) -> None:
    payload = {"event": f"articles.items.{action}", "collection": "articles", "key": key, "payload": fields}
    response = deliver(client.post, Post("directus", payload))
    assert response.status_code == 202, response.text


def texts(system: System, query: str) -> set[str]:
    return {hit.text for hit in system.runtime.search.search(query, 10).results}


def test_a_directus_update_of_one_text_field_keeps_the_others(system: System, client: TestClient) -> None:
    summary = "Harbour dues at Quellmoor are paid in salt."
    directus_item(client, "create", 8, {"title": "Dues", "summary": summary, "content": TEXT})
    eventually(lambda: found(system) == {"directus:articles:8"})
    directus_item(client, "update", 8, {"summary": "Harbour dues at Quellmoor are paid in amber."})
    eventually(lambda: any("amber" in text for text in texts(system, "Quellmoor harbour dues")))
    assert found(system) == {"directus:articles:8"}, "the content the update did not carry was lost"
    assert not any("salt" in text for text in texts(system, "Quellmoor harbour dues"))


def test_a_directus_draft_published_by_its_status_alone_is_searchable_as_last_edited(
    system: System, client: TestClient
) -> None:
    directus_item(
        client, "create", 9, {"title": "Draft", "content": "Quellmoor tolls: draft.", "status": "draft"}
    )
    directus_item(client, "update", 9, {"content": TEXT})  # an edit of the draft, still a draft
    eventually(system.settled)
    assert not found(system)
    assert not texts(system, "Quellmoor tolls draft") & {"Quellmoor tolls: draft."}
    directus_item(client, "update", 9, {"status": "published"})  # the editor's status dropdown
    eventually(lambda: found(system) == {"directus:articles:9"})
    assert client.get("/documents/directus:articles:9").json()["title"] == "Draft"


class SlowReads:
    """The real journal, whose reads answer 50 ms late: the window in which two updates of one item
    overlap, each merging into the state before the other."""

    def __init__(self, journal: Any) -> None:
        self._journal = journal

    def get(self, doc_id: str) -> Any:
        stored = self._journal.get(doc_id)
        time.sleep(0.05)
        return stored

    def __getattr__(self, name: str) -> Any:
        return getattr(self._journal, name)


def test_two_directus_updates_of_one_item_at_once_keep_each_others_fields(system: System) -> None:
    runtime = system.runtime
    intake = WebhookIntake(runtime.settings, SlowReads(runtime.journal), runtime.queue, runtime.locks)

    def update(action: str, fields: dict[str, Any]) -> str:
        payload = {"event": f"articles.items.{action}", "collection": "articles", "key": 5, "payload": fields}
        headers = {"authorization": f"Bearer {SECRETS['directus']}", "content-type": "application/json"}
        body = json.dumps(payload).encode()
        delivery = Delivery("directus", "POST", "/webhooks/directus", headers, body, time.time())
        return intake.receive(delivery).status

    assert update("create", {"title": "Tolls", "summary": "s0", "content": "c0"}) == "accepted"
    for round_ in range(1, 4):
        with ThreadPoolExecutor(2) as pool:
            answers = list(
                pool.map(
                    lambda fields: update("update", fields),
                    [{"summary": f"s{round_}"}, {"content": f"c{round_}"}],
                )
            )
        assert answers == ["accepted", "accepted"]
        stored = runtime.journal.get("directus:articles:5")
        assert stored is not None
        assert stored.fields == {
            "title": "Tolls",
            "summary": f"s{round_}",
            "content": f"c{round_}",
        }, "an update made at the same time as another lost the other's field"
