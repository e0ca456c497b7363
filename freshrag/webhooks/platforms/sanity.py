"""Sanity GROQ-powered webhooks. The body is the document (or a projection of it with the document under
`value`); the operation comes from the `sanity-operation` header or an `operation` field
(`delta::operation()` in the projection). Draft documents (`drafts.` ids) are ignored by default."""

from __future__ import annotations

import base64
import re
from typing import Any

from freshrag.webhook_settings import WebhookSource
from freshrag.webhooks.fields import entry_event, or_receipt, require, timestamp_ms
from freshrag.webhooks.model import (
    Delivery,
    Entries,
    Ignored,
    Interpretation,
    PayloadError,
    SignatureError,
)
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

OPERATIONS = ("create", "update", "delete")
_SIGNATURE = re.compile(r"^t=(\d+)[, ]+v1=([^, ]+)$")


def interpret(delivery: Delivery, payload: Any, config: WebhookSource) -> Interpretation:
    if not isinstance(payload, dict):
        raise PayloadError("the body must be a JSON object (the document or a projection of it)")
    document = payload["value"] if isinstance(payload.get("value"), dict) else payload
    operation = delivery.header("sanity-operation") or payload.get("operation") or "update"
    if operation not in OPERATIONS:
        raise PayloadError(f"operation must be one of {', '.join(OPERATIONS)} (got {operation!r})")
    doc_id = str(payload.get("_id") or document.get("_id") or document.get("objectID") or "")
    if not doc_id:
        raise PayloadError("missing required field '_id'")
    content_type = str(require(document, "_type"))
    if doc_id.startswith("drafts.") and not config.include_drafts:
        return Ignored("a draft document: indexed once published")
    mapping = config.mapping(content_type)
    if mapping.ignore:
        return Ignored(f"content type {content_type!r} is ignored by configuration")
    if operation == "delete":
        stamp = delivery.header("sanity-transaction-time")
        version, versioned = or_receipt(timestamp_ms(stamp), delivery.received_at)
        return Entries(
            (entry_event("sanity", content_type, doc_id, version, None, mapping, versioned=versioned),)
        )
    version, _ = or_receipt(timestamp_ms(document.get("_updatedAt")), delivery.received_at)
    fields = {**document, "slug": _slug(document.get("slug"))}
    return Entries((entry_event("sanity", content_type, doc_id, version, [(None, fields)], mapping),))


def _slug(value: Any) -> Any:
    return value.get("current") if isinstance(value, dict) else value


def verify(delivery: Delivery, secret: str, now: float, tolerance: float) -> None:
    """Verify a Sanity delivery: sanity-webhook-signature is t=<ms>,v1=<base64url HMAC of "<t>.<body>">."""
    header = required_header(delivery, "sanity-webhook-signature")
    match = _SIGNATURE.match(header)
    if match is None:
        raise SignatureError("malformed sanity-webhook-signature header (expected 't=<ms>,v1=<signature>')")
    timestamp, given = match.groups()
    check_fresh(whole_number(timestamp, "sanity-webhook-signature") / 1000, now, tolerance)
    expected = base64.urlsafe_b64encode(hmac_sha256(secret, timestamp.encode() + b"." + delivery.body))
    if not equal(given, expected.decode().rstrip("=")):
        raise mismatch("sanity-webhook-signature")


def delivery_id(delivery: Delivery) -> str | None:
    """The signature's parts: every spelling of the header that verifies names the same delivery."""
    value = header_id(delivery, "sanity-webhook-signature")
    parsed = _SIGNATURE.match(value) if value else None
    return ":".join(parsed.groups()) if parsed else value


PLATFORM = Platform(
    name="sanity",
    verify=verify,
    interpret=interpret,
    delivery_id=delivery_id,
)
