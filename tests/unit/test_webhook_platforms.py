"""How platform deliveries read: event names, what is ignored, which URL a push may be pulled from."""

from __future__ import annotations

import pytest

from freshrag.webhooks.config import WebhookSource
from freshrag.webhooks.intake import parse_body
from freshrag.webhooks.model import Delivery, Entries, Ignored, PayloadError, RepositoryPush
from freshrag.webhooks.platforms import directus, github, wordpress


def delivery(source: str, headers: dict[str, str] | None = None, body: bytes = b"{}") -> Delivery:
    return Delivery(source, "POST", f"/webhooks/{source}", headers or {}, body, received_at=1_700_000_000.0)


@pytest.mark.parametrize("event", ["articles.items.create", "items.create"])
def test_directus_flows_and_legacy_webhooks_both_name_item_events(event: str) -> None:
    payload = {"event": event, "collection": "articles", "key": 42, "payload": {"title": "T", "body": "Text"}}
    result = directus.interpret(delivery("directus"), payload, WebhookSource())
    assert isinstance(result, Entries)
    assert [doc.doc_id for doc in result.events[0].docs] == ["directus:articles:42"]


def test_directus_events_on_other_things_are_ignored() -> None:
    payload = {"event": "users.create", "collection": "directus_users", "key": 1, "payload": {}}
    assert isinstance(directus.interpret(delivery("directus"), payload, WebhookSource()), Ignored)


def test_a_trashed_wordpress_post_is_ordered_by_its_own_modification_time() -> None:
    post = {"ID": 5, "post_status": "trash", "post_modified_gmt": "2024-01-01 10:00:00", "post_type": "post"}
    headers = {"x-wp-webhook-name": "post_trash"}
    result = wordpress.interpret(
        delivery("wordpress", headers), {"post_id": 5, "post": post}, WebhookSource()
    )
    assert isinstance(result, Entries)
    assert result.events[0].deleted
    assert result.events[0].version == 1704103200000


def push(clone_url: str) -> dict[str, object]:
    repository = {"full_name": "acme/handbook", "clone_url": clone_url, "default_branch": "main"}
    return {"ref": "refs/heads/main", "after": "a" * 40, "repository": repository}


def test_a_push_is_pulled_only_from_an_https_url_unless_one_is_configured() -> None:
    headers = {"x-github-event": "push"}
    open_config = WebhookSource(repositories={"acme/handbook": {}})  # type: ignore[dict-item]
    with pytest.raises(PayloadError, match="https"):
        github.interpret(delivery("github", headers), push("--upload-pack=touch /tmp/x"), open_config)
    result = github.interpret(
        delivery("github", headers), push("https://github.com/acme/handbook.git"), open_config
    )
    assert isinstance(result, RepositoryPush)
    configured = WebhookSource(repositories={"acme/handbook": {"url": "/srv/mirrors/handbook.git"}})  # type: ignore[dict-item]
    result = github.interpret(delivery("github", headers), push("https://elsewhere/x.git"), configured)
    assert isinstance(result, RepositoryPush)
    assert result.clone_url == "/srv/mirrors/handbook.git"


def test_a_push_from_an_unconfigured_repository_is_ignored_with_the_reason() -> None:
    result = github.interpret(
        delivery("github", {"x-github-event": "push"}), push("https://x"), WebhookSource()
    )
    assert isinstance(result, Ignored)
    assert "not configured" in result.reason


def test_a_body_with_a_lone_surrogate_is_malformed() -> None:
    with pytest.raises(PayloadError, match="surrogate"):
        parse_body(delivery("generic", {"content-type": "application/json"}, b'{"data": {"id": "\\ud800"}}'))
