"""README's "Webhooks from a CMS" rules through `POST /webhooks/{source}`, with the real worker, model and
local Qdrant, checked as a user sees them (the answer, `GET /documents/{id}`, `/search`): drafts and
auto-saves stay out of search unless the source includes them, archive and delete remove an entry,
per-content-type mappings pick the title, the text and the URL, a journal that cannot be written answers 503
and keeps nothing, versions are ordered by instant with a removal winning a tie, replays are answered
`duplicate`, and each locale is a document of its own."""

from __future__ import annotations

import copy
import json
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import pytest
from fastapi.testclient import TestClient

from freshrag.state.entries import StoredDoc
from freshrag.webhooks.model import EntryEvent
from services.api import create_app
from tests.cms import QUERY, SECRETS, TEXT, Post, Sample, all_samples, deliver, sign
from tests.conftest import eventually
from tests.integration.conftest import System

SECRET_SETTINGS = {f"webhook_secret_{source}": secret for source, secret in SECRETS.items()}
MARKER = TEXT.split()[1]  # "Brindlewood": in every chunk made from TEXT
DRAFT = "Unapproved draft: the Quellmoor sluice gates will close every Thursday for inspection."
DRAFT_QUERY = "Quellmoor sluice gates"


@pytest.fixture
def start(start_system: Callable[..., System]) -> Iterator[Callable[..., tuple[System, TestClient]]]:
    """Start a system with every source's secret (plus `overrides`) and a client of its API."""
    with ExitStack() as clients:

        def started(**overrides: object) -> tuple[System, TestClient]:
            system = start_system(**SECRET_SETTINGS, **overrides)
            return system, clients.enter_context(TestClient(create_app(system.runtime)))

        yield started


@pytest.fixture
def samples(shared_data: Path) -> dict[str, Sample]:
    return {sample.name: sample for sample in all_samples(shared_data)}


class Answer(Protocol):
    """What these tests read of a response (TestClient's, whichever httpx it is built on)."""

    @property
    def status_code(self) -> int: ...

    @property
    def text(self) -> str: ...

    @property
    def headers(self) -> Mapping[str, str]: ...

    def json(self) -> Any: ...


def answered(response: Answer, code: int, status: str, what: str = "") -> None:
    assert (response.status_code, response.json().get("status")) == (code, status), (what, response.text)


def document(client: TestClient, doc_id: str) -> dict[str, Any] | None:
    """What `GET /documents/{id}` tells of the document; None when freshrag never heard of it."""
    response = client.get(f"/documents/{doc_id}")
    if response.status_code == 404:
        return None
    assert response.status_code == 200, response.text
    record: dict[str, Any] = response.json()
    return record


def status_of(client: TestClient, doc_id: str) -> str | None:
    record = document(client, doc_id)
    return record["status"] if record else None


def wait_until(client: TestClient, expected: Mapping[str, str | None]) -> None:
    """Wait until each document has the status `expected` gives it (polling `GET /documents/{id}`, which
    costs far less than a search)."""
    eventually(lambda: all(status_of(client, doc_id) == status for doc_id, status in expected.items()))


def hits(client: TestClient, query: str, marker: str) -> dict[str, str]:
    """The text `/search` returns for `query`, by document, of the chunks that contain `marker`."""
    response = client.get("/search", params={"q": query, "k": 50})
    assert response.status_code == 200, response.text
    return {hit["doc_id"]: hit["text"] for hit in response.json()["results"] if marker in hit["text"]}


def found(client: TestClient, query: str = QUERY, marker: str = MARKER) -> set[str]:
    return set(hits(client, query, marker))


def wait_for(
    client: TestClient, doc_ids: set[str], query: str = QUERY, marker: str = MARKER
) -> dict[str, str]:
    """Wait until `doc_ids` are indexed, check that search finds exactly them (chunks with `marker` for
    `query`), and return their texts."""
    wait_until(client, dict.fromkeys(doc_ids, "indexed"))
    texts = hits(client, query, marker)
    assert set(texts) == doc_ids
    return texts


@dataclass(frozen=True)
class Signed:
    """A delivery signed once, so that it can be sent again byte for byte, headers included."""

    target: str
    body: bytes
    headers: dict[str, str]

    def send(self, client: TestClient) -> Answer:
        return client.post(self.target, content=self.body, headers=self.headers)


def signed(post: Post, delivery_id: str | None = None, delay: float = 0) -> Signed:
    """`post` signed as its platform signs it, `delay` seconds from now (as a retry is signed again)."""
    body = json.dumps(post.payload).encode()
    target, now = f"/webhooks/{post.source}", time.time() + delay
    secret = SECRETS[post.source]
    headers = sign(
        post.source, body, secret, now=now, target=target, headers=post.headers, delivery_id=delivery_id
    )
    return Signed(target, body, {"content-type": "application/json", **headers})


def redrafted(post: Post, **headers: str) -> Post:
    """`post` with DRAFT where it had TEXT (and these extra headers)."""
    return Post(
        post.source, json.loads(json.dumps(post.payload).replace(TEXT, DRAFT)), post.headers | headers
    )


# Drafts and auto-saves.


@dataclass(frozen=True)
class DraftCase:
    """An entry's draft before it is first published, its publication, and a draft edit after it. On
    `removes` platforms a draft means "not published (any more)": it takes the entry out of search."""

    published: Post
    doc_id: str
    before: Post
    after: Post
    removes: bool = False

    @property
    def draft_answer(self) -> tuple[int, str]:
        return (202, "accepted") if self.removes else (200, "ignored")


def strapi_drafts(samples: dict[str, Sample]) -> DraftCase:
    published = samples["strapi/entry.publish"]
    before = redrafted(samples["strapi/entry.create"].post)
    after = redrafted(samples["strapi/entry.update"].post)
    before.payload["entry"]["publishedAt"] = None  # Draft & Publish: a new entry starts as a draft,
    after.payload["entry"]["publishedAt"] = None  # and an edit of a published one is a draft until published
    after.payload["createdAt"] = "2020-01-10T09:30:00.000Z"
    return DraftCase(published.post, published.doc_ids[0], before, after)


def sanity_drafts(samples: dict[str, Sample]) -> DraftCase:
    published = samples["sanity/full-document"]
    before = redrafted(published.post, **{"sanity-operation": "create"})
    after = redrafted(published.post, **{"sanity-operation": "update"})
    for post, updated in ((before, "2020-09-28T12:00:00Z"), (after, "2020-09-28T13:00:00Z")):
        post.payload["_id"] = "drafts." + post.payload["_id"]
        post.payload["_updatedAt"] = updated
    return DraftCase(published.post, published.doc_ids[0], before, after)


def ghost_drafts(samples: dict[str, Sample]) -> DraftCase:
    published = samples["ghost/post.published"]
    before, after = redrafted(published.post), redrafted(published.post)
    added = before.payload["post"]  # post.added: a new draft
    added["current"].update(status="draft", published_at=None, updated_at="2024-01-01T00:00:00.000Z")
    added["previous"] = {}
    unpublished = after.payload["post"]  # post.unpublished: back to draft
    unpublished["current"].update(status="draft", published_at=None, updated_at="2024-01-01T00:10:00.000Z")
    unpublished["previous"] = {"status": "published", "updated_at": "2024-01-01T00:05:00.000Z"}
    return DraftCase(published.post, published.doc_ids[0], before, after, removes=True)


def wordpress_drafts(samples: dict[str, Sample]) -> DraftCase:
    published = samples["wordpress/post_update"]
    before = redrafted(published.post, **{"X-WP-Webhook-Name": "post_create"})
    after = redrafted(published.post, **{"X-WP-Webhook-Name": "post_update"})
    for post, modified in ((before, "2018-11-06 14:00:00"), (after, "2018-11-06 15:00:00")):
        post.payload["post"].update(post_status="draft", post_modified_gmt=modified)
    return DraftCase(published.post, published.doc_ids[0], before, after, removes=True)


def contentful_drafts(sample: Sample, topic: str) -> DraftCase:
    header = {"X-Contentful-Topic": f"ContentManagement.Entry.{topic}"}
    before, after = redrafted(sample.post, **header), redrafted(sample.post, **header)
    after.payload["sys"]["updatedAt"] = "2021-02-05T08:00:00.000Z"
    return DraftCase(sample.post, sample.doc_ids[0], before, after)


def draft_cases(samples: dict[str, Sample]) -> dict[str, DraftCase]:
    return {
        "strapi publishedAt null": strapi_drafts(samples),
        "sanity drafts. id": sanity_drafts(samples),
        "ghost status draft": ghost_drafts(samples),
        "wordpress post_status draft": wordpress_drafts(samples),
        "contentful auto_save": contentful_drafts(
            samples["contentful/generic_text_page_publish_event"], "auto_save"
        ),
        "contentful save": contentful_drafts(samples["contentful/homepage_publish_event"], "save"),
    }


def test_a_draft_on_any_platform_is_never_searchable(
    samples: dict[str, Sample], start: Callable[..., tuple[System, TestClient]]
) -> None:
    system, client = start()
    cases = draft_cases(samples)
    removing = {case.doc_id for case in cases.values() if case.removes}
    keeping = {case.doc_id for case in cases.values() if not case.removes}

    def settled(doc_id: str) -> bool:
        """The worker has applied whatever the journal holds for the document."""
        stored = system.runtime.journal.get(doc_id)
        return stored is None or stored.applied

    for name, case in cases.items():  # a draft of an entry that was never published
        answered(deliver(client.post, case.before), *case.draft_answer, name)
    eventually(lambda: all(settled(doc_id) for doc_id in removing))
    assert {doc_id: status_of(client, doc_id) for doc_id in removing | keeping} == dict.fromkeys(
        removing | keeping
    )
    assert not found(client, DRAFT_QUERY, "Quellmoor")

    for name, case in cases.items():
        answered(deliver(client.post, case.published), 202, "accepted", name)
    wait_for(client, removing | keeping)

    for name, case in cases.items():  # a draft edit of the published entry
        answered(deliver(client.post, case.after), *case.draft_answer, name)
    # Ghost and WordPress drafts are unpublished posts; elsewhere the published version stays until the
    # draft is published.
    wait_until(client, dict.fromkeys(removing, "deleted"))
    assert found(client) == keeping
    assert all(status_of(client, doc_id) == "indexed" for doc_id in keeping)
    assert not found(client, DRAFT_QUERY, "Quellmoor")


# A Strapi source configured as README's freshrag.toml example.

CONTENT_TYPES = {
    "article": {
        "title": ["headline", "title"],
        "body": ["summary", "content"],
        "uri": "https://example.com/blog/{slug}",
    },
    "internal-note": {"ignore": True},
    "*": {"title": ["question"], "body": ["answer"], "uri": "https://example.com/{content_type}/{id}"},
}


def strapi_event(event: str, model: str, entry: dict[str, Any], published: bool = True) -> Post:
    stamp = "2026-11-20T10:00:00.000Z"
    entry = {**entry, "publishedAt": stamp if published else None}
    return Post("strapi", {"event": event, "createdAt": stamp, "model": model, "entry": entry})


def test_a_configured_source_maps_each_content_type_and_may_include_drafts(
    start: Callable[..., tuple[System, TestClient]],
) -> None:
    _, client = start(webhooks={"strapi": {"include_drafts": True, "content_types": CONTENT_TYPES}})
    article = {
        "id": 3,
        "title": "Refund policy",
        "headline": "Refunds within five days",
        "slug": "refund-policy",
        "content": "Content: the Tamsworth office pays refunds by bank transfer.",
        "sidebar": "Sidebar: photographs of the Tamsworth staff outing.",
        "summary": "Summary: Tamsworth refunds take five working days.",
    }
    note = {"id": 5, "title": "Tamsworth", "content": "Internal: the Tamsworth safe code changes on Mondays."}
    faq = {
        "id": 7,
        "question": "How long do Tamsworth refunds take?",
        "answer": "Answer: five working days after the Tamsworth office approves them.",
        "notes": "Notes: ask the Tamsworth manager before promising anything.",
    }
    draft = {
        "id": 8,
        "question": "Do Tamsworth refunds include postage?",
        "answer": "Draft: Tamsworth postage.",
    }
    answered(deliver(client.post, strapi_event("entry.publish", "internal-note", note)), 200, "ignored")
    answered(deliver(client.post, strapi_event("entry.publish", "article", article)), 202, "accepted")
    answered(deliver(client.post, strapi_event("entry.publish", "faq", faq)), 202, "accepted")
    answered(
        deliver(client.post, strapi_event("entry.create", "faq", draft, published=False)), 202, "accepted"
    )
    documents = {"strapi:article:3", "strapi:faq:7", "strapi:faq:8"}
    texts = wait_for(client, documents, "How long do Tamsworth refunds take?", "Tamsworth")
    assert status_of(client, "strapi:internal-note:5") is None

    article_text = texts["strapi:article:3"]
    assert "Summary:" in article_text
    assert "Content:" in article_text
    assert article_text.index("Summary:") < article_text.index("Content:")
    assert "Sidebar" not in article_text
    assert "Answer:" in texts["strapi:faq:7"]
    assert "Notes" not in texts["strapi:faq:7"]
    assert "Draft:" in texts["strapi:faq:8"]

    records = {doc_id: client.get(f"/documents/{doc_id}").json() for doc_id in documents}
    assert records["strapi:article:3"]["title"] == "Refunds within five days"
    assert records["strapi:article:3"]["uri"] == "https://example.com/blog/refund-policy"
    assert records["strapi:faq:7"]["title"] == "How long do Tamsworth refunds take?"
    assert records["strapi:faq:7"]["uri"] == "https://example.com/faq/7"


# Locales, and the removal of an entry.

GERMAN = "Das Brindlewood-Aquädukt bringt Schmelzwasser vierzig Kilometer weit zu den Obstgärten von Valmora."
REMOVAL_TOPICS = ("unpublish", "archive", "delete")


def contentful_entry(samples: dict[str, Sample], entry_id: str) -> Post:
    """The sample page, as entry `entry_id`, published in en-US and de-DE."""
    post = copy.deepcopy(samples["contentful/generic_text_page_publish_event"].post)
    post.payload["sys"]["id"] = entry_id
    body = post.payload["fields"]["body"]
    body["de-DE"] = json.loads(json.dumps(body["en-US"]).replace(json.dumps(TEXT), json.dumps(GERMAN)))
    return post


def contentful_removal(topic: str, published: Post) -> Post:
    header = {"X-Contentful-Topic": f"ContentManagement.Entry.{topic}"}
    sys, later = published.payload["sys"], "2021-02-06T10:00:00.000Z"
    if topic == "archive":  # an archived entry is sent whole, stamped archivedAt
        archived = {**sys, "archivedAt": later, "archivedVersion": 2, "updatedAt": later}
        return Post("contentful", {"sys": archived, "fields": published.payload["fields"]}, header)
    return Post("contentful", {"sys": {**sys, "type": "DeletedEntry", "deletedAt": later}}, header)


def generic_localized(kind: str, locale: str, stamp: str, text: str | None = None) -> Post:
    entry = {"id": "faq-9", "content_type": "faq", "locale": locale, "updated_at": stamp}
    return Post("generic", {"type": kind, "data": entry | ({"text": text} if text else {})})


def test_each_locale_is_a_document_and_goes_with_its_entry(
    samples: dict[str, Sample], start: Callable[..., tuple[System, TestClient]]
) -> None:
    _, client = start()
    entries = {topic: contentful_entry(samples, f"entry-{topic}") for topic in REMOVAL_TOPICS}
    contentful = {
        f"contentful:page:entry-{topic}:{locale}" for topic in REMOVAL_TOPICS for locale in ("en-US", "de-DE")
    }
    generic = {"en": "generic:faq:faq-9:en", "de": "generic:faq:faq-9:de"}
    for topic, entry in entries.items():
        answered(deliver(client.post, entry), 202, "accepted", topic)
    stamp = "2026-11-20T10:00:00Z"
    answered(deliver(client.post, generic_localized("document.updated", "en", stamp, TEXT)), 202, "accepted")
    answered(
        deliver(client.post, generic_localized("document.updated", "de", stamp, GERMAN)), 202, "accepted"
    )
    texts = wait_for(client, {*contentful, *generic.values()})
    for doc_id, text in texts.items():
        assert (GERMAN if doc_id.endswith(("de-DE", ":de")) else TEXT)[:40] in text, doc_id

    # Contentful: unpublishing, archiving or deleting the entry removes all its locales.
    for topic, entry in entries.items():
        answered(deliver(client.post, contentful_removal(topic, entry)), 202, "accepted", topic)
    # Generic: each locale is unpublished on its own.
    later = "2026-11-20T11:00:00Z"
    answered(deliver(client.post, generic_localized("document.unpublished", "de", later)), 202, "accepted")
    wait_until(client, {generic["de"]: "deleted", generic["en"]: "indexed"})
    assert found(client) == {generic["en"]}
    answered(deliver(client.post, generic_localized("document.unpublished", "en", later)), 202, "accepted")
    wait_until(client, dict.fromkeys([*contentful, *generic.values()], "deleted"))
    assert not found(client)


# A journal that cannot be written.


def test_a_journal_that_cannot_be_written_answers_503_and_the_same_delivery_is_taken_later(
    start: Callable[..., tuple[System, TestClient]], monkeypatch: pytest.MonkeyPatch
) -> None:
    system, client = start()

    def disk_error(event: EntryEvent, received_at: float) -> list[StoredDoc] | None:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(system.runtime.journal, "put", disk_error)
    data = {"id": "faq-12", "content_type": "faq", "title": "Orchards", "text": TEXT}
    delivery = signed(Post("generic", {"type": "document.updated", "data": data}))
    refused = delivery.send(client)
    assert refused.status_code == 503, refused.text
    assert refused.headers["retry-after"] == "5"
    assert status_of(client, "generic:faq:faq-12") is None

    monkeypatch.undo()  # the disk is back: the CMS sends the very same delivery again
    answered(delivery.send(client), 202, "accepted")
    wait_for(client, {"generic:faq:faq-12"})
    assert status_of(client, "generic:faq:faq-12") == "indexed"


# Versions.


def versioned(source: str, entry_id: str, stamp: str, text: str | None) -> Post:
    """An update of `entry_id` at `stamp` to `text` (None: its removal), as `source` sends it."""
    if source == "generic":
        kind = "document.updated" if text is not None else "document.deleted"
        data = {"id": entry_id, "content_type": "note", "updated_at": stamp}
        return Post(
            "generic", {"type": kind, "data": data | ({"title": "Note", "text": text} if text else {})}
        )
    event = "entry.update" if text is not None else "entry.delete"
    entry = {"id": entry_id, "title": "Note", "content": text or "", "updatedAt": stamp, "publishedAt": stamp}
    return Post("strapi", {"event": event, "createdAt": stamp, "model": "note", "entry": entry})


def versions_are_ordered(client: TestClient, source: str) -> None:
    def send(entry_id: str, stamp: str, text: str | None) -> Answer:
        response: Answer = deliver(client.post, versioned(source, entry_id, stamp, text))
        return response

    def indexed_as_of(entry_id: str, stamp: str) -> None:
        """Wait until the entry's state of `stamp` is the one indexed."""
        expected = ("indexed", int(datetime.fromisoformat(stamp).timestamp() * 1000))

        def indexed() -> tuple[str, int] | None:
            record = document(client, f"{source}:note:{entry_id}")
            return (record["status"], record["source_version"]) if record else None

        eventually(lambda: indexed() == expected)

    def text_of(entry_id: str) -> str:
        texts = hits(client, f"{entry_id} lighthouse keeper rota", entry_id)
        return texts.get(f"{source}:note:{entry_id}", "")

    # Older by instant although its clock reads later: stale; newer although it reads earlier: applied.
    rota = "The Marlow lighthouse keeper rota, revision"
    answered(send("Marlow", "2026-11-20T11:00:00Z", f"{rota} two."), 202, "accepted", source)
    indexed_as_of("Marlow", "2026-11-20T11:00:00Z")
    answered(send("Marlow", "2026-11-20T12:00:00+02:00", f"{rota} one."), 200, "stale", source)
    answered(send("Marlow", "2026-11-20T10:30:00-01:00", f"{rota} three."), 202, "accepted", source)

    # A removal after an upsert of the same instant (written with another offset) removes it.
    rota = "The Penhallow lighthouse keeper rota."
    answered(send("Penhallow", "2026-11-20T11:00:00Z", rota), 202, "accepted", source)
    indexed_as_of("Penhallow", "2026-11-20T11:00:00Z")
    answered(send("Penhallow", "2026-11-20T13:00:00+02:00", None), 202, "accepted", source)

    # An upsert after a removal of the same instant is stale: the entry stays removed.
    rota = "The Trevose lighthouse keeper rota."
    answered(send("Trevose", "2026-11-20T10:00:00Z", rota), 202, "accepted", source)
    indexed_as_of("Trevose", "2026-11-20T10:00:00Z")
    answered(send("Trevose", "2026-11-20T11:00:00Z", None), 202, "accepted", source)
    answered(send("Trevose", "2026-11-20T06:00:00-05:00", f"{rota} Resurrected."), 200, "stale", source)

    indexed_as_of("Marlow", "2026-11-20T10:30:00-01:00")
    wait_until(client, {f"{source}:note:Penhallow": "deleted", f"{source}:note:Trevose": "deleted"})
    assert "revision three" in text_of("Marlow")
    assert not text_of("Penhallow")
    assert not text_of("Trevose")


def test_versions_are_ordered_by_instant_and_a_removal_wins_a_tie(
    start: Callable[..., tuple[System, TestClient]],
) -> None:
    _, client = start()
    for source in ("generic", "strapi"):  # Standard Webhooks' data.updated_at; Strapi's event time
        versions_are_ordered(client, source)


# Replays.


def received_at(system: System, doc_id: str) -> float | None:
    """When the delivery that wrote the document's journalled state arrived."""
    stored = system.runtime.journal.get(doc_id)
    return stored.received_at if stored else None


REPLAYED = {
    "generic": "generic/document.updated",
    "strapi": "strapi/entry.publish",
    "contentful": "contentful/generic_text_page_publish_event",
    "sanity": "sanity/full-document",
    "ghost": "ghost/post.published",
    "wordpress": "wordpress/post_update",
}


def test_the_same_delivery_sent_twice_is_applied_once(
    samples: dict[str, Sample], shared_data: Path, start: Callable[..., tuple[System, TestClient]]
) -> None:
    system, client = start()
    deliveries = {source: signed(samples[name].post) for source, name in REPLAYED.items()}
    ping = json.loads((shared_data / "webhooks/github/ping_payload.json").read_text())
    github = signed(Post("github", ping, {"X-GitHub-Event": "ping"}))
    doc_ids = {doc_id for name in REPLAYED.values() for doc_id in samples[name].doc_ids}

    for source, delivery in deliveries.items():
        answered(delivery.send(client), 202, "accepted", source)
    answered(github.send(client), 200, "ignored", "github")
    wait_for(client, doc_ids)
    journalled = {doc_id: received_at(system, doc_id) for doc_id in doc_ids}

    for source, delivery in {**deliveries, "github": github}.items():
        answered(delivery.send(client), 200, "duplicate", source)
    # A Standard Webhooks sender retries with the same webhook-id, signed again at the time of the retry.
    first_id = deliveries["generic"].headers["webhook-id"]
    retry = signed(samples[REPLAYED["generic"]].post, delivery_id=first_id, delay=30)
    assert retry.headers["webhook-signature"] != deliveries["generic"].headers["webhook-signature"]
    answered(retry.send(client), 200, "duplicate", "generic retry")
    # Nothing was journalled or queued again: each document's state is still the first delivery's.
    assert {doc_id: received_at(system, doc_id) for doc_id in doc_ids} == journalled
    assert {doc_id: status_of(client, doc_id) for doc_id in doc_ids} == dict.fromkeys(doc_ids, "indexed")
