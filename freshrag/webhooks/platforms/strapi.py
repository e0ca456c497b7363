"""Strapi (v4 and v5) lifecycle webhooks: `{"event": "entry.publish", "createdAt": ..., "model": "article",
"entry": {...}}`. Strapi cannot sign: its secret is a static `Authorization: Bearer` header."""

from __future__ import annotations

import hashlib
from typing import Any

from freshrag.webhook_settings import WebhookSource
from freshrag.webhooks.fields import entry_event, or_receipt, require, timestamp_ms
from freshrag.webhooks.model import Delivery, Entries, Ignored, Interpretation
from freshrag.webhooks.plugin import Platform
from freshrag.webhooks.signatures import untimed, verify_bearer

UPSERTS = ("entry.create", "entry.update", "entry.publish")
REMOVALS = ("entry.delete", "entry.unpublish")


def interpret(delivery: Delivery, payload: Any, config: WebhookSource) -> Interpretation:
    event = str(require(payload, "event"))
    if event not in UPSERTS + REMOVALS:
        return Ignored(f"Strapi event {event!r} changes no entry")
    model = str(require(payload, "model"))
    entry = require(payload, "entry")
    entry_id = str(require(payload, "entry", "id"))
    mapping = config.mapping(model)
    if mapping.ignore:
        return Ignored(f"content type {model!r} is ignored by configuration")
    draft = "publishedAt" in entry and entry["publishedAt"] is None
    if event in ("entry.create", "entry.update") and draft and not config.include_drafts:
        return Ignored("a draft (publishedAt is null): indexed once published")
    # Strapi stamps each event with its own time: the order in which changes really happened.
    version, versioned = or_receipt(timestamp_ms(payload.get("createdAt")), delivery.received_at)
    locale = entry.get("locale") if isinstance(entry.get("locale"), str) else None
    documents = None if event in REMOVALS else [(None, entry)]
    entry_id = _entry_id(entry, entry_id)
    changed = entry_event(
        "strapi", model, entry_id, version, documents, mapping, locale=locale, versioned=versioned
    )
    return Entries((changed,))


def _entry_id(entry: dict[str, Any], entry_id: str) -> str:
    # Strapi 5 keeps one documentId across locales and draft/published copies; older versions only have id.
    document_id = entry.get("documentId")
    return str(document_id) if document_id else entry_id


def delivery_id(delivery: Delivery) -> str:
    """The body carries its event time, so equal bodies are the same event."""
    return hashlib.sha256(delivery.body).hexdigest()


PLATFORM = Platform(
    name="strapi",
    verify=untimed(verify_bearer),
    interpret=interpret,
    delivery_id=delivery_id,
)
