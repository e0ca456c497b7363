"""Webflow CMS webhooks (Data API v2): `{"triggerType": "collection_item_published", "payload": {...}}`.

What Webflow's live site shows is what is searchable: `collection_item_published` indexes the published
items (its payload holds them under `items`, or is the item itself), `collection_item_unpublished` and
`collection_item_deleted` remove the item. `collection_item_created` and `collection_item_changed` are
staged edits, not yet on the live site: ignored unless `include_drafts`. Each collection (its
`collectionId`) is a content type; a localized item is one document per `cmsLocaleId`. The item's text is
its `fieldData` (`name` is the title; rich-text fields are HTML). Other triggers (forms, orders, site
publishes) change no item.

Webflow signs webhooks created through the API or an app: `x-webflow-signature` is the hex
HMAC-SHA256, keyed with the webhook's secret (an app's client secret), of `<x-webflow-timestamp>:<body>`,
the timestamp in milliseconds; Webflow's documentation rejects requests older than five minutes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from freshrag.webhook_settings import WebhookSource
from freshrag.webhooks.fields import entry_event, or_receipt, require, timestamp_ms
from freshrag.webhooks.model import Delivery, Entries, EntryEvent, Ignored, Interpretation, PayloadError
from freshrag.webhooks.plugin import Platform
from freshrag.webhooks.signatures import (
    check_fresh,
    equal,
    header_id,
    hmac_sha256,
    mismatch,
    required_header,
    whole_number,
)

PUBLISHED = "collection_item_published"
STAGED = ("collection_item_created", "collection_item_changed")
REMOVALS = ("collection_item_unpublished", "collection_item_deleted")


def interpret(delivery: Delivery, payload: Any, config: WebhookSource) -> Interpretation:
    trigger = str(require(payload, "triggerType"))
    if trigger not in (PUBLISHED, *STAGED, *REMOVALS):
        return Ignored(f"Webflow {trigger!r} events change no collection item")
    if trigger in STAGED and not config.include_drafts:
        return Ignored(f"Webflow {trigger!r} is a staged edit: indexed once published")
    body = require(payload, "payload")
    items = body.get("items") if isinstance(body, dict) and "items" in body else [body]
    if not isinstance(items, list) or not items or not all(isinstance(item, dict) for item in items):
        raise PayloadError("field 'payload' must be an item, or hold the items under 'items'")
    events = tuple(
        event for event in (_event(trigger, item, delivery, config) for item in items) if event is not None
    )
    if not events:
        return Ignored("every item is of a collection ignored by configuration")
    return Entries(events)


def _event(
    trigger: str, item: dict[str, Any], delivery: Delivery, config: WebhookSource
) -> EntryEvent | None:
    item_id = str(require(item, "id"))
    collection = str(require(item, "collectionId"))
    mapping = config.mapping(collection)
    if mapping.ignore:
        return None
    locale = item.get("cmsLocaleId") if isinstance(item.get("cmsLocaleId"), str) else None
    if trigger in REMOVALS or not published(item, config):
        # Webflow's removal payloads carry no time of their own: the receipt orders them.
        version, versioned = or_receipt(None, delivery.received_at)
        return entry_event(
            "webflow", collection, item_id, version, None, mapping, locale=locale, versioned=versioned
        )
    fields = require(item, "fieldData")
    if not isinstance(fields, dict):
        raise PayloadError("field 'fieldData' must be an object of the item's fields")
    version, versioned = or_receipt(timestamp_ms(item.get("lastUpdated")), delivery.received_at)
    return entry_event(
        "webflow", collection, item_id, version, [(None, fields)], mapping, locale=locale, versioned=versioned
    )


def published(fields: Mapping[str, Any], config: WebhookSource) -> bool:
    """Whether an item is on the live site: neither archived nor a draft (drafts too with
    `include_drafts`). Also the rule for items fetched from Webflow's API (`fetch_url`)."""
    return not fields.get("isArchived") and (config.include_drafts or not fields.get("isDraft"))


def verify(delivery: Delivery, secret: str, now: float, tolerance: float) -> None:
    """Verify a Webflow delivery: x-webflow-signature is the hex HMAC-SHA256 of "<timestamp>:<body>"."""
    given = required_header(delivery, "x-webflow-signature")
    timestamp = required_header(delivery, "x-webflow-timestamp")
    check_fresh(whole_number(timestamp, "x-webflow-timestamp") / 1000, now, tolerance)
    if not equal(given.lower(), hmac_sha256(secret, timestamp.encode() + b":" + delivery.body).hex()):
        raise mismatch("x-webflow-signature")


PLATFORM = Platform(
    name="webflow",
    verify=verify,
    interpret=interpret,
    # The signature covers the timestamp and the body: a captured delivery sent again keeps it.
    delivery_id=lambda delivery: header_id(delivery, "x-webflow-signature", lower=True),
    published=published,
)
