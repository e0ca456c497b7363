"""Any system that speaks Standard Webhooks (https://www.standardwebhooks.com): freshrag's own schema.

    {"type": "document.updated", "timestamp": "2024-05-01T12:00:00Z",
     "data": {"id": "faq-12", "content_type": "faq", "title": "...", "text": "...", "url": "https://...",
              "updated_at": "2024-05-01T12:00:00Z", "locale": "en"}}

`text` (Markdown or plain), `html` or `body` hold the content; `type` ending in created, updated, published
or upserted indexes it, deleted, removed, unpublished or archived removes it.
"""

from __future__ import annotations

import base64
from string import hexdigits
from typing import Any

from freshrag import webhook_settings
from freshrag.webhook_settings import WebhookSource
from freshrag.webhooks.fields import entry_event, or_receipt, require, timestamp_ms, with_default_body
from freshrag.webhooks.model import Delivery, Entries, Interpretation, PayloadError, SignatureError
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


def standard_webhooks_key(secret: str) -> bytes:
    """The HMAC key of a Standard Webhooks secret (see `freshrag.webhook_settings.standard_webhooks_key`);
    raises `SignatureError` for a secret that is not one."""
    try:
        return webhook_settings.standard_webhooks_key(secret)
    except ValueError as exc:
        raise SignatureError(f"the configured {exc}") from None


def verify_standard(delivery: Delivery, secret: str, now: float, tolerance: float) -> None:
    """Verify a Standard Webhooks delivery (webhook-id, webhook-timestamp, webhook-signature: v1,<base64>)."""
    msg_id = required_header(delivery, "webhook-id")
    timestamp = required_header(delivery, "webhook-timestamp")
    signatures = required_header(delivery, "webhook-signature")
    check_fresh(whole_number(timestamp, "webhook-timestamp"), now, tolerance)
    key = standard_webhooks_key(secret)
    expected = base64.b64encode(hmac_sha256(key, f"{msg_id}.{timestamp}.".encode() + delivery.body)).decode()
    for entry in signatures.split():
        version, _, signature = entry.partition(",")
        if version == "v1" and equal(signature, expected):
            return
    raise mismatch("webhook-signature")


def looks_hex(secret: str) -> bool:
    """Whether a Standard Webhooks secret without `whsec_` is hex digits (valid base64 too, so it is
    accepted, but to a different key than a sender that used the digits themselves would sign with)."""
    return (
        not secret.startswith("whsec_")
        and len(secret) >= 32
        and len(secret) % 4 == 0  # otherwise it is not base64 either, and start-up stops on it
        and all(c in hexdigits for c in secret)
    )


def _secret_warning(secret: str) -> str | None:
    if not looks_hex(secret):
        return None
    return (
        "FRESHRAG_WEBHOOK_SECRET_GENERIC looks like hex, but a Standard Webhooks secret is read as "
        "base64 (whsec_<base64>): if the sender signs with the hex digits' bytes, give those bytes "
        "in base64, or every delivery is refused with 401"
    )


PLATFORM = Platform(
    name="generic",
    verify=verify_standard,
    interpret=interpret,
    # The signed message id: a retry keeps it.
    delivery_id=lambda delivery: header_id(delivery, "webhook-id"),
    secret_warning=_secret_warning,
)
