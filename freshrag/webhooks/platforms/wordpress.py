"""WordPress through WP Webhooks: the trigger in `X-WP-Webhook-Name` (post_create, post_update,
post_delete, post_trash) and the post in the body. Only published posts are searchable: a post moved to
draft, pending or private is removed, as is a trashed or deleted one."""

from __future__ import annotations

from typing import Any

from freshrag.webhooks.config import WebhookSource
from freshrag.webhooks.fields import entry_event, require, timestamp_ms, with_default_body
from freshrag.webhooks.model import Delivery, Entries, Ignored, Interpretation, PayloadError

UPSERTS = ("post_create", "post_update")
REMOVALS = ("post_delete", "post_trash")


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
    published = post.get("post_status") == "publish" or config.include_drafts
    # The post's own modification time orders its states (trashing and unpublishing update it); a
    # permanent delete carries the post as it was, so its time is the receipt.
    modified = timestamp_ms(post.get("post_modified_gmt"))
    version = int(delivery.received_at * 1000) if trigger == "post_delete" or modified is None else modified
    if trigger in REMOVALS or not published:
        return Entries((entry_event("wordpress", post_type, post_id, version, None, mapping),))
    link = payload.get("post_permalink") or post.get("guid") or ""
    uri = link if isinstance(link, str) else ""
    return Entries((entry_event("wordpress", post_type, post_id, version, [(None, post)], mapping, uri),))
