"""How platform deliveries read: event names, what is ignored, which URL a push may be pulled from."""

from __future__ import annotations

import pytest

from freshrag.webhook_settings import ContentTypeMapping, WebhookSource
from freshrag.webhooks.fields import entry_event
from freshrag.webhooks.intake import parse_body
from freshrag.webhooks.model import Delivery, Entries, Ignored, PayloadError, RepositoryPush
from freshrag.webhooks.platforms import directus, ghost, github, wordpress


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


def directus_event(action: str, fields: dict[str, object], config: WebhookSource | None = None) -> Entries:
    payload = {
        "event": f"articles.items.{action}",
        "collection": "articles",
        "keys": ["42"],
        "payload": fields,
    }
    result = directus.interpret(delivery("directus"), payload, config or WebhookSource())
    assert isinstance(result, Entries)
    return result


def test_a_directus_item_that_is_not_published_is_out_of_search() -> None:
    assert (
        not directus_event("create", {"title": "T", "body": "Text", "status": "published"}).events[0].deleted
    )
    assert directus_event("create", {"title": "T", "body": "Text", "status": "draft"}).events[0].deleted
    assert directus_event("update", {"status": "archived"}).events[0].deleted
    drafts = WebhookSource(include_drafts=True)
    assert not directus_event("update", {"status": "draft"}, drafts).events[0].deleted
    assert directus_event("update", {"status": "archived"}, drafts).events[0].deleted
    # collections without a status field are always published
    assert not directus_event("create", {"title": "T", "body": "Text"}).events[0].deleted


def test_a_directus_item_that_is_not_published_keeps_its_fields_out_of_search() -> None:
    draft = directus_event("create", {"title": "T", "body": "Text", "status": "draft"}).events[0]
    assert (draft.docs, [doc.fields for doc in draft.withheld]) == (
        (),
        [{"title": "T", "body": "Text", "status": "draft"}],
    )
    removal = {"event": "items.delete", "collection": "articles", "keys": [7]}
    deleted = directus.interpret(delivery("directus"), removal, WebhookSource())
    assert isinstance(deleted, Entries)
    assert (deleted.events[0].docs, deleted.events[0].withheld) == ((), ())  # a deleted item keeps nothing
    assert draft.merged  # stored one at a time: a delete or create is never lost to a concurrent merge
    assert deleted.events[0].merged


def test_a_directus_update_is_partial_unless_whole_items_are_fetched() -> None:
    assert directus_event("update", {"title": "New"}).events[0].partial
    assert not directus_event("create", {"title": "New"}).events[0].partial
    fetched = WebhookSource.model_validate(
        {"content_types": {"articles": {"fetch_url": "https://cms.example.com/items/articles/{id}"}}}
    )
    assert not directus_event("update", {"title": "New"}, fetched).events[0].partial


def test_a_fetch_url_quotes_each_value_whole() -> None:
    config = WebhookSource.model_validate(
        {"content_types": {"articles": {"fetch_url": "https://cms.example.com/items/articles/{id}"}}}
    )
    payload = {"event": "items.create", "collection": "articles", "key": "1/../../users/me", "payload": {}}
    result = directus.interpret(delivery("directus"), payload, config)
    assert isinstance(result, Entries)
    assert (
        result.events[0].docs[0].fetch_url
        == "https://cms.example.com/items/articles/1%2F..%2F..%2Fusers%2Fme"
    )


def wordpress_event(post: dict[str, object], config: WebhookSource | None = None) -> Entries:
    post = {"ID": 5, "post_title": "T", "post_content": "Text", "post_type": "post", **post}
    headers = {"x-wp-webhook-name": "post_update"}
    result = wordpress.interpret(
        delivery("wordpress", headers), {"post_id": 5, "post": post}, config or WebhookSource()
    )
    assert isinstance(result, Entries)
    return result


def test_wordpress_indexes_public_posts_only() -> None:
    assert not wordpress_event({"post_status": "publish", "post_password": ""}).events[0].deleted
    assert wordpress_event({"post_status": "publish", "post_password": "hunter2"}).events[0].deleted
    drafts = WebhookSource(include_drafts=True)
    assert not wordpress_event({"post_status": "draft"}, drafts).events[0].deleted
    for status in ("private", "trash"):
        assert wordpress_event({"post_status": status}, drafts).events[0].deleted, status


def ghost_event(post: dict[str, object], config: WebhookSource | None = None) -> Entries:
    current = {"id": "g1", "title": "T", "html": "<p>Text</p>", "status": "published", **post}
    result = ghost.interpret(delivery("ghost"), {"post": {"current": current}}, config or WebhookSource())
    assert isinstance(result, Entries)
    return result


def test_ghost_keeps_members_only_and_paid_posts_out_unless_told() -> None:
    assert not ghost_event({"visibility": "public"}).events[0].deleted
    assert not ghost_event({}).events[0].deleted  # no visibility field: public
    for visibility in ("members", "paid", "tiers"):
        assert ghost_event({"visibility": visibility}).events[0].deleted, visibility
        restricted = WebhookSource(include_restricted=True)
        assert not ghost_event({"visibility": visibility}, restricted).events[0].deleted, visibility
    assert ghost_event({"visibility": "paid", "status": "draft"}, restricted).events[0].deleted


def test_a_colon_in_an_id_never_makes_two_entries_share_a_document() -> None:
    first = entry_event("generic", "faq", "x:en", 1, [(None, {"title": "T"})], ContentTypeMapping())
    second = entry_event(
        "generic", "faq", "x", 1, [(None, {"title": "T"})], ContentTypeMapping(), locale="en"
    )
    assert first.entry_key != second.entry_key
    assert first.docs[0].doc_id != second.docs[0].doc_id
    assert entry_event("generic", "faq", "12", 1, None, ContentTypeMapping()).entry_key == "generic:faq:12"
