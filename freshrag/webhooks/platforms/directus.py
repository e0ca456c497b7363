"""Directus flows ("Event Hook" trigger, "Webhook / Request URL" operation) or legacy webhooks:
`{"event": "articles.items.create", "collection": "articles", "key": 42, "payload": {...}}` (legacy
webhooks: "items.create"); updates and deletes carry `keys`. An update carries only the changed fields:
they are merged into the item's stored fields, so what it lacks stays as it was. Configuring `fetch_url`
(for example `https://cms.example.com/items/articles/{id}` with `fetch_path = "data"`) indexes whole
items instead. An item whose `status` is there and is not `published` (draft, archived) is out of search,
its fields kept for the update that publishes it.
Directus cannot sign: its secret is a static `Authorization: Bearer` header."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from freshrag.webhook_settings import WebhookSource
from freshrag.webhooks.fields import entry_event, require
from freshrag.webhooks.model import Delivery, Entries, Ignored, Interpretation, PayloadError
from freshrag.webhooks.plugin import Platform
from freshrag.webhooks.signatures import untimed, verify_bearer

ACTIONS = ("create", "update", "delete")
STATUS_FIELD = "status"  # Directus' own archive field: published, draft or archived
PUBLISHED = "published"


def interpret(delivery: Delivery, payload: Any, config: WebhookSource) -> Interpretation:
    event = str(require(payload, "event"))
    # Flows name the event "<collection>.items.create"; the legacy webhooks "items.create".
    parts = event.split(".")
    action = parts[-1]
    if len(parts) < 2 or parts[-2] != "items" or action not in ACTIONS:
        return Ignored(f"Directus event {event!r} changes no item")
    collection = str(require(payload, "collection"))
    mapping = config.mapping(collection)
    if mapping.ignore:
        return Ignored(f"collection {collection!r} is ignored by configuration")
    keys = _keys(payload)
    fields = payload.get("payload")
    if action != "delete" and not isinstance(fields, dict):
        raise PayloadError("field 'payload' must be an object of the item's fields")
    version = int(delivery.received_at * 1000)  # Directus stamps no time on its events
    deleted = action == "delete"
    # An update carries only the changed fields: what it lacks is kept, unless the whole item is fetched.
    # So the fields of an item are kept, the unpublished ones too (withheld from search): publishing it
    # may send its status alone.
    kept = not mapping.fetch_url
    events = tuple(
        entry_event(
            "directus",
            collection,
            key,
            version,
            None if deleted else [(None, fields)],
            mapping,
            versioned=False,
            partial=action == "update" and kept,
            says_published=isinstance(fields, dict) and STATUS_FIELD in fields,
            keep_fields=kept,
            withhold=not deleted and not published(fields, config),
        )
        for key in keys
    )
    return Entries(events)


def published(fields: Mapping[str, Any], config: WebhookSource) -> bool:
    """Whether the item is published: items of collections without a status field always are."""
    if STATUS_FIELD not in fields:
        return True
    status = fields[STATUS_FIELD]
    return status == PUBLISHED or (config.include_drafts and status == "draft")


def _keys(payload: dict[str, Any]) -> list[str]:
    if payload.get("key") not in (None, ""):
        return [str(payload["key"])]
    keys = payload.get("keys")
    if isinstance(keys, list) and keys and all(isinstance(key, str | int) for key in keys):
        return [str(key) for key in keys]
    raise PayloadError("missing required field 'key' (or 'keys', a list of item keys)")


PLATFORM = Platform(
    name="directus",
    verify=untimed(verify_bearer),
    interpret=interpret,
    published=published,  # a fetched item that is a draft or archived leaves search
)
