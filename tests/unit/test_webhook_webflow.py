"""Webflow: deliveries signed as Webflow's documentation says, and how its CMS item events read."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from freshrag.settings import load_settings
from freshrag.webhook_settings import ContentTypeMapping, WebhookSource
from freshrag.webhooks.model import Delivery, Entries, Ignored, PayloadError, SignatureError
from freshrag.webhooks.platforms import PLATFORMS, delivery_id, webflow
from tests.cms.webflow import sign_webflow

NOW = 1_767_225_600.0
SECRET = "webflow-client-secret"  # noqa: S105  (a test secret)
COLLECTION = "6569fb3c1cd4ee1d6a5a6a6b"


def item(**changes: Any) -> dict[str, Any]:
    fields = {
        "name": "Refunds",
        "slug": "refunds",
        "post-body": "<h2>How long</h2><p>Refunds take <strong>5 working days</strong>.</p>",
    }
    return {
        "id": "6569fb4d8a1e4b2c9e0f1a2b",
        "siteId": "6569fb2e0d5f5a1b3c4d5e6f",
        "workspaceId": "6569fb1f7a8b9c0d1e2f3a4b",
        "collectionId": COLLECTION,
        "cmsLocaleId": None,
        "lastPublished": "2026-11-20T10:00:00.000Z",
        "lastUpdated": "2026-11-20T09:59:00.000Z",
        "createdOn": "2026-11-01T08:00:00.000Z",
        "isArchived": False,
        "isDraft": False,
        "fieldData": fields,
    } | changes


def delivery(payload: Any, headers: dict[str, str] | None = None, received_at: float = NOW) -> Delivery:
    body = json.dumps(payload).encode()
    return Delivery("webflow", "POST", "/webhooks/webflow", headers or {}, body, received_at)


def interpret(trigger: str, body: Any, config: WebhookSource | None = None) -> Any:
    payload = {"triggerType": trigger, "payload": body}
    return webflow.interpret(delivery(payload), payload, config or WebhookSource())


# Signatures, from the signer in tests.cms.webflow (written from Webflow's documentation).


def signed(body: bytes, at: float = NOW, secret: str = SECRET) -> Delivery:
    headers = sign_webflow(body, secret, now=at)
    return Delivery("webflow", "POST", "/webhooks/webflow", headers, body, NOW)


def test_a_delivery_signed_as_webflow_documents_passes() -> None:
    webflow.verify(signed(b'{"triggerType":"collection_item_published"}'), SECRET, NOW, 300)


def test_the_signature_covers_the_timestamp() -> None:
    d = signed(b"{}")
    moved = Delivery("webflow", "POST", "/", {**d.headers, "x-webflow-timestamp": str(int(NOW * 1000) + 1)},
                     d.body, NOW)  # fmt: skip
    with pytest.raises(SignatureError, match=r"signature does not match \(x-webflow-signature header\)"):
        webflow.verify(moved, SECRET, NOW, 300)


def test_an_upper_case_hex_signature_passes() -> None:
    d = signed(b"{}")
    upper = {**d.headers, "x-webflow-signature": d.headers["x-webflow-signature"].upper()}
    webflow.verify(Delivery("webflow", "POST", "/", upper, d.body, NOW), SECRET, NOW, 300)


def test_a_delivery_older_than_five_minutes_is_refused() -> None:
    with pytest.raises(SignatureError, match="timestamp is 301 s old, over the 300 s tolerance"):
        webflow.verify(signed(b"{}", at=NOW - 301), SECRET, NOW, 300)


def test_a_timestamp_in_seconds_or_garbage_is_refused() -> None:
    d = signed(b"{}")
    seconds = Delivery(
        "webflow", "POST", "/", {**d.headers, "x-webflow-timestamp": str(int(NOW))}, d.body, NOW
    )
    with pytest.raises(SignatureError, match=r"timestamp is \d+(\.\d)? s old"):
        webflow.verify(seconds, SECRET, NOW, 300)
    garbage = Delivery("webflow", "POST", "/", {**d.headers, "x-webflow-timestamp": "soon"}, d.body, NOW)
    with pytest.raises(SignatureError, match="malformed x-webflow-timestamp header"):
        webflow.verify(garbage, SECRET, NOW, 300)


def test_the_delivery_id_is_the_signature() -> None:
    d = signed(b"{}")
    assert delivery_id(d) == d.headers["x-webflow-signature"].lower()
    assert delivery_id(Delivery("webflow", "POST", "/", {}, b"{}", NOW)) is None


# Events.


def test_a_published_item_is_indexed_with_its_rich_text() -> None:
    result = interpret("collection_item_published", {"items": [item()]})
    assert isinstance(result, Entries)
    (event,) = result.events
    (doc,) = event.docs
    assert doc.doc_id == f"webflow:{COLLECTION}:6569fb4d8a1e4b2c9e0f1a2b"
    assert doc.title == "Refunds"
    assert doc.body == "## How long\n\nRefunds take 5 working days."  # the slug is not text
    assert event.versioned
    assert event.version == int(datetime(2026, 11, 20, 9, 59, tzinfo=UTC).timestamp() * 1000)  # lastUpdated


def test_a_publish_of_several_items_or_of_one_bare_item_is_read() -> None:
    second = item(id="second", fieldData={"name": "Returns", "post-body": "<p>Within 30 days.</p>"})
    several = interpret("collection_item_published", {"items": [item(), second]})
    assert isinstance(several, Entries)
    assert [event.entry_id for event in several.events] == ["6569fb4d8a1e4b2c9e0f1a2b", "second"]
    bare = interpret("collection_item_published", item())
    assert isinstance(bare, Entries)
    assert len(bare.events) == 1


@pytest.mark.parametrize("trigger", ["collection_item_unpublished", "collection_item_deleted"])
def test_an_unpublished_or_deleted_item_is_removed_in_receipt_order(trigger: str) -> None:
    result = interpret(trigger, {"id": "6569fb4d8a1e4b2c9e0f1a2b", "collectionId": COLLECTION})
    assert isinstance(result, Entries)
    (event,) = result.events
    assert event.deleted
    assert not event.versioned
    assert event.version == int(NOW * 1000)


@pytest.mark.parametrize("state", [{"isDraft": True}, {"isArchived": True}])
def test_a_published_draft_or_archived_item_is_removed(state: dict[str, bool]) -> None:
    result = interpret("collection_item_published", {"items": [item(**state)]})
    assert isinstance(result, Entries)
    assert result.events[0].deleted


@pytest.mark.parametrize("trigger", ["collection_item_created", "collection_item_changed"])
def test_a_staged_edit_waits_for_its_publish_unless_drafts_are_indexed(trigger: str) -> None:
    assert isinstance(interpret(trigger, item()), Ignored)
    drafts = interpret(trigger, item(isDraft=True), WebhookSource(include_drafts=True))
    assert isinstance(drafts, Entries)
    assert drafts.events[0].docs


def test_each_locale_of_an_item_is_a_document() -> None:
    result = interpret("collection_item_published", {"items": [item(cmsLocaleId="fr-locale")]})
    assert isinstance(result, Entries)
    assert result.events[0].docs[0].doc_id == f"webflow:{COLLECTION}:6569fb4d8a1e4b2c9e0f1a2b:fr-locale"


def test_a_collection_mapping_applies_and_an_ignored_collection_indexes_nothing() -> None:
    mapping = ContentTypeMapping(uri="https://example.com/help/{slug}")
    mapped = interpret(
        "collection_item_published", item(), WebhookSource(content_types={COLLECTION: mapping})
    )
    assert isinstance(mapped, Entries)
    assert mapped.events[0].docs[0].uri == "https://example.com/help/refunds"
    ignored = WebhookSource(content_types={"*": ContentTypeMapping(ignore=True)})
    assert isinstance(interpret("collection_item_published", item(), ignored), Ignored)


def test_other_triggers_are_acknowledged_and_bad_bodies_named() -> None:
    assert isinstance(interpret("form_submission", {"name": "Contact"}), Ignored)
    with pytest.raises(PayloadError, match="missing required field 'triggerType'"):
        webflow.interpret(delivery({}), {"payload": item()}, WebhookSource())
    with pytest.raises(PayloadError, match="missing required field 'fieldData'"):
        interpret("collection_item_published", item(fieldData=None))
    with pytest.raises(PayloadError, match="must be an item, or hold the items"):
        interpret("collection_item_published", {"items": "all"})


def test_a_fetched_item_is_published_unless_a_draft_or_archived() -> None:
    assert webflow.published({"isDraft": False}, WebhookSource())
    assert not webflow.published({"isDraft": True}, WebhookSource())
    assert webflow.published({"isDraft": True}, WebhookSource(include_drafts=True))
    assert not webflow.published({"isArchived": True}, WebhookSource(include_drafts=True))


def test_the_platform_is_registered_with_its_secret_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert PLATFORMS["webflow"] is webflow.PLATFORM
    monkeypatch.setenv("FRESHRAG_WEBHOOK_SECRET_WEBFLOW", SECRET)
    assert load_settings().webhook_secret("webflow") == SECRET
