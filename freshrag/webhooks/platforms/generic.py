"""Any system that speaks Standard Webhooks (https://www.standardwebhooks.com): freshrag's own schema.

    {"type": "document.updated", "timestamp": "2024-05-01T12:00:00Z",
     "data": {"id": "faq-12", "content_type": "faq", "title": "...", "text": "...", "url": "https://...",
              "updated_at": "2024-05-01T12:00:00Z", "locale": "en"}}

`text` (Markdown or plain), `html` or `body` hold the content; `type` ending in created, updated, published
or upserted indexes it, deleted, removed, unpublished or archived removes it.
"""

from __future__ import annotations

from typing import Any

from freshrag.webhooks.config import WebhookSource
from freshrag.webhooks.fields import entry_event, or_receipt, require, timestamp_ms, with_default_body
from freshrag.webhooks.model import Delivery, Entries, Interpretation, PayloadError

UPSERTS = ("created", "updated", "published", "upserted")
REMOVALS = ("deleted", "removed", "unpublished", "archived")
BODY_FIELDS = ("text", "markdown", "html", "body", "content")


def interpret(delivery: Delivery, payload: Any, config: WebhookSource) -> Interpretation:
    kind = str(require(payload, "type"))
    data = require(payload, "data")
    entry_id = str(require(payload, "data", "id"))
    action = kind.rsplit(".", 1)[-1]
    if action not in UPSERTS + REMOVALS:
        raise PayloadError(f"field 'type' must end in one of {', '.join(UPSERTS + REMOVALS)} (got {kind!r})")
    content_type = str(data.get("content_type") or "document")
    mapping = config.mapping(content_type)
    mapping = with_default_body(mapping, BODY_FIELDS)
    version = data.get("version")
    if isinstance(version, int) and not 0 <= version < 2**63:
        raise PayloadError("field 'data.version' must be a whole number from 0 to 2**63 - 1")
    if not isinstance(version, int) or isinstance(version, bool):
        version = timestamp_ms(data.get("updated_at"))
    versioned = version is not None
    if version is None:  # the envelope's `timestamp` (when the event was sent), else the receipt
        version, _ = or_receipt(timestamp_ms(payload.get("timestamp")), delivery.received_at)
    locale = data.get("locale") if isinstance(data.get("locale"), str) else None
    documents = None if action in REMOVALS else [(None, data)]
    uri = data.get("url") if isinstance(data.get("url"), str) else ""
    event = entry_event(
        "generic", content_type, entry_id, version, documents, mapping, uri, locale, versioned=versioned
    )
    return Entries((event,))
