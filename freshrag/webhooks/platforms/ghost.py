"""Ghost: one event per webhook URL and no event header, so the event is read from the state the body
carries: `{"post": {"current": {...}, "previous": {...}}}` (or `page`). A published current state is
indexed; any other (draft, scheduled, or empty after a delete) removes the post. A post for members or
paid tiers only is removed like a draft unless `include_restricted`: whoever can search would read it."""

from __future__ import annotations

import re
from typing import Any

from freshrag.webhook_settings import WebhookSource
from freshrag.webhooks.fields import entry_event, or_receipt, require, timestamp_ms, with_default_body
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

CONTENT_TYPES = ("post", "page")
_SIGNATURE = re.compile(r"^sha256=([0-9a-fA-F]+), ?t=(\d+)$")


def interpret(delivery: Delivery, payload: Any, config: WebhookSource) -> Interpretation:
    if not isinstance(payload, dict) or not payload:
        raise PayloadError("the body must be a JSON object such as {'post': {'current': ...}}")
    content_type = next((name for name in CONTENT_TYPES if name in payload), None)
    if content_type is None:
        return Ignored(f"Ghost {next(iter(payload))!r} events change no post or page")
    states = require(payload, content_type)
    current = states.get("current") if isinstance(states, dict) else None
    previous = states.get("previous") if isinstance(states, dict) else None
    if not isinstance(current, dict):
        raise PayloadError(f"missing required field '{content_type}.current'")
    entry = current or (previous if isinstance(previous, dict) else {})
    entry_id = str(require(entry or {"id": None}, "id"))
    mapping = with_default_body(config.mapping(content_type), ("html",))
    if mapping.ignore:
        return Ignored(f"content type {content_type!r} is ignored by configuration")
    published = current.get("status") == "published" or (config.include_drafts and bool(current))
    published = published and (config.include_restricted or _public(current))
    stamp = current.get("updated_at") if current else None
    version, versioned = or_receipt(timestamp_ms(stamp), delivery.received_at)  # a delete has no current
    fields = {**current, "html": current.get("html") or current.get("plaintext")}
    documents = [(None, fields)] if published else None
    uri = str(current.get("url") or "")
    event = entry_event(
        "ghost", content_type, entry_id, version, documents, mapping, uri, versioned=versioned
    )
    return Entries((event,))


def _public(entry: dict[str, Any]) -> bool:
    """Whether everyone may read the entry: Ghost's `visibility` is public, members, paid or tiers."""
    return bool(entry.get("visibility", "public") == "public")


def verify(delivery: Delivery, secret: str, now: float, tolerance: float) -> None:
    """Verify a Ghost delivery: X-Ghost-Signature is sha256=<hex HMAC of body + t>, t=<ms>."""
    header = required_header(delivery, "X-Ghost-Signature")
    match = _SIGNATURE.match(header)
    if match is None:
        raise SignatureError("malformed X-Ghost-Signature header (expected 'sha256=<hex>, t=<ms>')")
    given, timestamp = match.groups()
    check_fresh(whole_number(timestamp, "X-Ghost-Signature") / 1000, now, tolerance)
    if not equal(given.lower(), hmac_sha256(secret, delivery.body + timestamp.encode()).hex()):
        raise mismatch("X-Ghost-Signature")


def delivery_id(delivery: Delivery) -> str | None:
    """The signature's parts: every spelling of the header that verifies names the same delivery."""
    value = header_id(delivery, "x-ghost-signature")
    parsed = _SIGNATURE.match(value) if value else None
    return ":".join(parsed.groups()).lower() if parsed else value


PLATFORM = Platform(
    name="ghost",
    verify=verify,
    interpret=interpret,
    delivery_id=delivery_id,
)
