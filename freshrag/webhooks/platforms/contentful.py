"""Contentful: the topic header `X-Contentful-Topic: ContentManagement.Entry.<action>`, the entry's `sys`
and its `fields`, each keyed by locale. One document per locale; unpublish, delete and archive remove them
all. Saves and auto-saves are drafts: ignored unless `include_drafts`."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

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

UPSERTS = ("publish",)
DRAFTS = ("create", "save", "auto_save", "unarchive")
REMOVALS = ("unpublish", "delete", "archive")


def interpret(delivery: Delivery, payload: Any, config: WebhookSource) -> Interpretation:
    topic = delivery.header("x-contentful-topic")
    if not topic:
        raise PayloadError("missing X-Contentful-Topic header")
    parts = topic.split(".")
    if len(parts) != 3:
        raise PayloadError(f"X-Contentful-Topic {topic!r} is not '<api>.<entity>.<action>'")
    _, entity, action = parts
    if entity != "Entry":
        return Ignored(f"Contentful {entity} events change no entry")
    drafts = config.include_drafts and action in DRAFTS
    if action not in UPSERTS + REMOVALS and not drafts:
        return Ignored(f"Contentful {action!r} is a draft or changes nothing published")
    sys = require(payload, "sys")
    entry_id = str(require(payload, "sys", "id"))
    content_type = str(require(payload, "sys", "contentType", "sys", "id"))
    mapping = config.mapping(content_type)
    if mapping.ignore:
        return Ignored(f"content type {content_type!r} is ignored by configuration")
    stamp = sys.get("deletedAt") or sys.get("archivedAt") or sys.get("updatedAt")
    version, versioned = or_receipt(timestamp_ms(stamp), delivery.received_at)
    if action in REMOVALS:
        return Entries(
            (entry_event("contentful", content_type, entry_id, version, None, mapping, versioned=versioned),)
        )
    fields = require(payload, "fields")
    if not isinstance(fields, dict):
        raise PayloadError("field 'fields' must be an object of fields by locale")
    documents: list[tuple[str | None, dict[str, Any]]] = [
        (locale, {name: values.get(locale) for name, values in fields.items() if isinstance(values, dict)})
        for locale in _locales(fields)
    ]
    event = entry_event(
        "contentful", content_type, entry_id, version, documents, mapping, versioned=versioned
    )
    return Entries((event,))


def _locales(fields: dict[str, Any]) -> list[str]:
    seen: dict[str, None] = {}
    for values in fields.values():
        if isinstance(values, dict):
            seen.update(dict.fromkeys(str(locale) for locale in values))
    return list(seen)


def _signed_path(target: str) -> str:
    # node-apps-toolkit: encodeURI(pathname + "?" + querystring.escape(query)); the two safe sets are Node's.
    path, _, query = target.partition("?")
    if query:
        path += "?" + quote(query, safe="!'()*")
    return quote(path, safe=";,/?:@&=+$!'()*#")


def verify(delivery: Delivery, secret: str, now: float, tolerance: float) -> None:
    """Verify a Contentful delivery: X-Contentful-Signature over method, path, the signed headers and body."""
    given = required_header(delivery, "X-Contentful-Signature")
    timestamp = required_header(delivery, "X-Contentful-Timestamp")
    listed = required_header(delivery, "X-Contentful-Signed-Headers")
    signed = [name.strip().lower() for name in listed.split(",")]
    # The timestamp and the topic (which decides publish or delete) must be signed, or a captured delivery
    # could be sent again later, or as another action.
    for required in ("x-contentful-timestamp", "x-contentful-topic"):
        if required not in signed and (required == "x-contentful-timestamp" or delivery.header(required)):
            raise SignatureError(f"X-Contentful-Signed-Headers header does not list {required}")
    check_fresh(whole_number(timestamp, "X-Contentful-Timestamp") / 1000, now, tolerance)
    headers = []
    for name in signed:
        value = delivery.header(name)
        if value is None:
            raise SignatureError(f"missing {name} header (listed in X-Contentful-Signed-Headers)")
        headers.append(f"{name}:{value.strip()}")
    canonical = "\n".join([delivery.method.upper(), _signed_path(delivery.target), ";".join(headers), ""])
    if not equal(given, hmac_sha256(secret, canonical.encode() + delivery.body).hex()):
        raise mismatch("X-Contentful-Signature")


PLATFORM = Platform(
    name="contentful",
    verify=verify,
    interpret=interpret,
    # The signature, not the unsigned idempotency key: a replay under a new key is still caught.
    delivery_id=lambda delivery: header_id(delivery, "x-contentful-signature", lower=True),
)
