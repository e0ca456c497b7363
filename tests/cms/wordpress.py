"""WP Webhooks: X-WP-Webhook-Signature = base64 HMAC-SHA256(secret, body)."""

from __future__ import annotations

import base64
from pathlib import Path

from tests.cms.common import TEXT, Kit, Post, Request, Sample, hmac_sha256, load


def sign_wordpress(body: bytes, secret: str) -> dict[str, str]:
    return {"x-wp-webhook-signature": base64.b64encode(hmac_sha256(secret.encode(), body)).decode()}


def _sign(r: Request) -> dict[str, str]:
    return sign_wordpress(r.body, r.secret)


def samples(root: Path) -> list[Sample]:
    found = []
    for trigger, removal in (("post_create", "post_delete"), ("post_update", "post_trash")):
        payload = load(root, f"wordpress_wp-webhooks/{trigger}.demo.json")
        payload["post"]["post_content"] = f"<!-- wp:paragraph --><p>{TEXT}</p><!-- /wp:paragraph -->"
        gone = load(root, f"wordpress_wp-webhooks/{removal}.demo.json")
        gone["post_id"] = payload["post_id"]
        post = Post("wordpress", payload, {"X-WP-Webhook-Name": trigger})
        doc_id = f"wordpress:post:{payload['post_id']}"
        removal_post = Post("wordpress", gone, {"X-WP-Webhook-Name": removal})
        found.append(Sample(f"wordpress/{trigger}", post, (doc_id,), removal_post))
    order = load(root, "wordpress_wp-webhooks/wc_order_created.demo.json")
    created = Post("wordpress", order, {"X-WP-Webhook-Name": "wc_order_created"})
    found.append(Sample("wordpress/wc_order_created", created))
    return found


KIT = Kit(
    name="wordpress",
    secret="wordpress-test-secret",
    signature_header="x-wp-webhook-signature",
    timed=False,
    sign=_sign,
    samples=samples,
)
