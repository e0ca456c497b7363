"""WordPress through WP Webhooks: the trigger in `X-WP-Webhook-Name` (post_create, post_update,
post_delete, post_trash) and the post in the body. Only published posts without a password are
searchable: a post moved to draft, pending or private, or given a password, is removed, as is a trashed or
deleted one. `include_drafts` adds drafts, pending and scheduled posts, never private or trashed ones."""

from __future__ import annotations

import base64
from typing import Any

from freshrag.webhook_settings import WebhookSource
from freshrag.webhooks.fields import entry_event, or_receipt, require, timestamp_ms, with_default_body
from freshrag.webhooks.model import Delivery, Entries, Ignored, Interpretation, PayloadError
from freshrag.webhooks.plugin import Platform
from freshrag.webhooks.signatures import equal, header_id, hmac_sha256, mismatch, required_header, untimed

UPSERTS = ("post_create", "post_update")
REMOVALS = ("post_delete", "post_trash")
DRAFTS = ("draft", "pending", "future")


def interpret(delivery: Delivery, payload: Any, config: WebhookSource) -> Interpretation:
    trigger = delivery.header("x-wp-webhook-name")
    if not trigger:
        raise PayloadError("missing X-WP-Webhook-Name header")
    if trigger not in UPSERTS + REMOVALS:
        return Ignored(f"WP Webhooks trigger {trigger!r} changes no post")
    post = require(payload, "post")
    post_id = str(payload.get("post_id") or require(payload, "post", "ID"))
    post_type = str(post.get("post_type") or "post")
    mapping = with_default_body(config.mapping(post_type), ("post_content",))
    if mapping.ignore:
        return Ignored(f"post type {post_type!r} is ignored by configuration")
    mapping = mapping.model_copy(update={"title": ("post_title", *mapping.title)})
    status = post.get("post_status")
    published = status == "publish" or (config.include_drafts and status in DRAFTS)
    published = published and not post.get("post_password")  # protected: not for everyone's answers
    # The post's own modification time orders its states (trashing and unpublishing update it); a
    # permanent delete carries the post as it was, so its time is the receipt.
    modified = timestamp_ms(post.get("post_modified_gmt"))
    version, versioned = or_receipt(None if trigger == "post_delete" else modified, delivery.received_at)
    if trigger in REMOVALS or not published:
        gone = entry_event("wordpress", post_type, post_id, version, None, mapping, versioned=versioned)
        return Entries((gone,))
    link = payload.get("post_permalink") or post.get("guid") or ""
    uri = link if isinstance(link, str) else ""
    return Entries((entry_event("wordpress", post_type, post_id, version, [(None, post)], mapping, uri),))


def verify(delivery: Delivery, secret: str) -> None:
    """Verify a WP Webhooks delivery: X-WP-Webhook-Signature is the base64 HMAC-SHA256 of the body."""
    given = required_header(delivery, "X-WP-Webhook-Signature")
    if not equal(given, base64.b64encode(hmac_sha256(secret, delivery.body)).decode()):
        raise mismatch("X-WP-Webhook-Signature")


PLATFORM = Platform(
    name="wordpress",
    verify=untimed(verify),
    interpret=interpret,
    delivery_id=lambda delivery: header_id(delivery, "x-wp-webhook-signature"),
)
