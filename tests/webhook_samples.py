"""The real webhook bodies in ../shared/data/webhooks, with our own text in their content fields, each
paired with the delivery that removes what it indexed. Used by the integration and end-to-end tests."""

from __future__ import annotations

import base64
import copy
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.webhook_signing import sign

SECRETS = {
    "generic": "whsec_" + base64.b64encode(b"generic-test-secret-0123456789ab").decode(),
    "strapi": "strapi-test-token",
    "contentful": "c" * 64,
    "sanity": "sanity-test-secret",
    "ghost": "ghost-test-secret",
    "wordpress": "wordpress-test-secret",
    "directus": "directus-test-token",
    "github": "github-test-secret",
    "webflow": "webflow-test-secret",
}
SECRET_ENV = {f"FRESHRAG_WEBHOOK_SECRET_{source.upper()}": secret for source, secret in SECRETS.items()}
TEXT = (
    "The Brindlewood aqueduct carries meltwater forty kilometres to the terraced orchards of Valmora, "
    "where the apricot harvest depends on it every August."
)
QUERY = "Brindlewood aqueduct meltwater orchards"


@dataclass(frozen=True)
class Post:
    source: str
    payload: Any
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Sample:
    """A sample delivery; `doc_ids` it makes searchable (none when it is to be ignored) and the delivery
    that removes them."""

    name: str
    post: Post
    doc_ids: tuple[str, ...] = ()
    removal: Post | None = None


def deliver(
    send: Callable[..., Any], post: Post, *, secret: str | None = None, now: float | None = None
) -> Any:
    """POST `post` signed as its platform signs, through `send(url, content=, headers=)`."""
    body = json.dumps(post.payload).encode()
    target = f"/webhooks/{post.source}"
    secret = SECRETS[post.source] if secret is None else secret
    headers = sign(post.source, body, secret, now=now or time.time(), target=target, headers=post.headers)
    headers.setdefault("content-type", "application/json")
    return send(target, content=body, headers=headers)


def _load(root: Path, name: str) -> Any:
    return json.loads((root / name).read_text())


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat().replace("+00:00", "Z")


def strapi_samples(root: Path) -> list[Sample]:
    samples = []
    for event, removal in (("create", "delete"), ("update", "delete"), ("publish", "unpublish")):
        payload = _load(root, f"strapi/entry.{event}.json")
        payload["entry"]["city"] = TEXT
        gone = Post("strapi", _load(root, f"strapi/entry.{removal}.json"))
        samples.append(Sample(f"strapi/entry.{event}", Post("strapi", payload), ("strapi:address:1",), gone))
    for name in ("media.create", "media.update", "media.delete", "releases.publish"):
        samples.append(Sample(f"strapi/{name}", Post("strapi", _load(root, f"strapi/{name}.json"))))
    workflow = _load(root, "strapi/review-workflows.updateEntryStage.json")
    samples.append(Sample("strapi/review-workflows", Post("strapi", workflow)))
    return samples


def contentful_samples(root: Path) -> list[Sample]:
    samples = []
    for name, field_name in (
        ("homepage_publish_event", "description"),
        ("generic_text_page_publish_event", "body"),
    ):
        payload = _load(root, f"contentful/Entry.publish.{name}.json")
        payload["fields"][field_name]["en-US"]["content"][0]["content"][0]["value"] = TEXT
        sys = payload["sys"]
        doc_id = f"contentful:{sys['contentType']['sys']['id']}:{sys['id']}:en-US"
        deleted = {"sys": {**copy.deepcopy(sys), "type": "DeletedEntry", "deletedAt": _iso(time.time())}}
        topic = {"X-Contentful-Topic": "ContentManagement.Entry.publish"}
        removal = Post("contentful", deleted, {"X-Contentful-Topic": "ContentManagement.Entry.unpublish"})
        samples.append(Sample(f"contentful/{name}", Post("contentful", payload, topic), (doc_id,), removal))
    auto_save = _load(root, "contentful/Entry.auto_save.dfe-eyfs.json")
    topic = {"X-Contentful-Topic": "ContentManagement.Entry.auto_save"}
    samples.append(Sample("contentful/auto_save", Post("contentful", auto_save, topic)))
    return samples  # fmt: skip


def sanity_samples(root: Path) -> list[Sample]:
    payload = _load(root, "sanity/document.internalFaq.full-document-body.json")
    payload["body"][0]["children"][0]["text"] = TEXT
    removal = Post("sanity", payload, {"sanity-operation": "delete"})
    doc_id = f"sanity:internalFaq:{payload['_id']}"
    return [Sample("sanity/full-document", Post("sanity", payload), (doc_id,), removal)]


def ghost_samples(root: Path) -> list[Sample]:
    payload = _load(root, "ghost/post.published.json")
    current = payload["post"]["current"]
    current["html"] = f"<h2>Irrigation</h2><p>{TEXT}</p>"
    deleted = {"post": {"current": {}, "previous": copy.deepcopy(current)}}
    doc_id = f"ghost:post:{current['id']}"
    return [Sample("ghost/post.published", Post("ghost", payload), (doc_id,), Post("ghost", deleted))]


def wordpress_samples(root: Path) -> list[Sample]:
    samples = []
    for trigger, removal in (("post_create", "post_delete"), ("post_update", "post_trash")):
        payload = _load(root, f"wordpress_wp-webhooks/{trigger}.demo.json")
        payload["post"]["post_content"] = f"<!-- wp:paragraph --><p>{TEXT}</p><!-- /wp:paragraph -->"
        gone = _load(root, f"wordpress_wp-webhooks/{removal}.demo.json")
        gone["post_id"] = payload["post_id"]
        post = Post("wordpress", payload, {"X-WP-Webhook-Name": trigger})
        doc_id = f"wordpress:post:{payload['post_id']}"
        removal_post = Post("wordpress", gone, {"X-WP-Webhook-Name": removal})
        samples.append(Sample(f"wordpress/{trigger}", post, (doc_id,), removal_post))
    order = _load(root, "wordpress_wp-webhooks/wc_order_created.demo.json")
    samples.append(
        Sample(
            "wordpress/wc_order_created", Post("wordpress", order, {"X-WP-Webhook-Name": "wc_order_created"})
        )
    )
    return samples  # fmt: skip


def directus_samples(root: Path) -> list[Sample]:
    samples = []
    removal = Post("directus", _load(root, "directus/items.delete.SHAPE-ONLY.json"))
    for event in ("create", "update"):
        payload = _load(root, f"directus/items.{event}.SHAPE-ONLY.json")
        payload["payload"] = {"title": "Valmora orchards", "content": TEXT}
        samples.append(
            Sample(f"directus/items.{event}", Post("directus", payload), ("directus:articles:42",), removal)
        )
    return samples  # fmt: skip


def generic_samples() -> list[Sample]:
    data = {
        "id": "faq-12",
        "content_type": "faq",
        "title": "Orchards",
        "text": TEXT,
        "url": "https://x/faq-12",
    }
    upsert = {"type": "document.updated", "timestamp": _iso(time.time() - 60), "data": data}
    removal = {
        "type": "document.deleted",
        "timestamp": _iso(time.time()),
        "data": {"id": "faq-12", "content_type": "faq"},
    }
    sample = Sample("generic/document.updated", Post("generic", upsert), ("generic:faq:faq-12",))
    return [replace(sample, removal=Post("generic", removal))]


def all_samples(data: Path) -> list[Sample]:
    """Every sample delivery, from the shared data folder `data` (../shared/data)."""
    root = data / "webhooks"
    return [
        *strapi_samples(root),
        *contentful_samples(root),
        *sanity_samples(root),
        *ghost_samples(root),
        *wordpress_samples(root),
        *directus_samples(root),
        *generic_samples(),
    ]
