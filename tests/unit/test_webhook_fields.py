"""Reading entries: title and text fields, templates, versions, required fields."""

from __future__ import annotations

import pytest

from freshrag.webhook_settings import ContentTypeMapping
from freshrag.webhooks.fields import entry_event, entry_text, fill, require, timestamp_ms
from freshrag.webhooks.model import PayloadError


def test_every_text_field_but_the_title_and_bookkeeping_is_the_text() -> None:
    fields = {
        "id": 7,
        "slug": "tides",
        "title": "Tides",
        "summary": "Two a day.",
        "body": "<h2>Why</h2><p>The moon.</p>",
        "updatedAt": "2024-01-01T00:00:00Z",
        "cover": {"sys": {"type": "Link"}},
        "views": 12,
    }
    title, text = entry_text(fields, ContentTypeMapping())
    assert title == "Tides"
    assert "Two a day." in text
    assert "## Why" in text
    assert "The moon." in text
    assert "tides" not in text
    assert "2024" not in text


def test_named_body_fields_are_the_only_text() -> None:
    title, text = entry_text({"name": "N", "a": "alpha", "b": "beta"}, ContentTypeMapping(body=("b",)))
    assert (title, text) == ("N", "beta")


def test_templates_fill_from_fields_and_give_nothing_when_a_field_is_missing() -> None:
    assert fill("https://x/{slug}", {"slug": "tides"}) == "https://x/tides"
    assert fill("https://x/{slug}", {}) == ""


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-01-01T00:00:00.000Z", 1704067200000),
        ("2018-11-06 14:19:18", 1541513958000),  # WordPress' post_modified_gmt
        ("2020-09-28T12:51:59Z", 1601297519000),
        ("yesterday", None),
        (None, None),
    ],
)
def test_timestamps_become_milliseconds(value: object, expected: int | None) -> None:
    assert timestamp_ms(value) == expected


def test_a_missing_required_field_is_named() -> None:
    with pytest.raises(PayloadError, match=r"'entry\.id'"):
        require({"entry": {}}, "entry", "id")


def test_a_fetch_template_needs_its_fields_in_the_payload() -> None:
    mapping = ContentTypeMapping(fetch_url="https://cms/items/{collection}/{id}")
    with pytest.raises(PayloadError, match="collection"):
        entry_event("directus", "articles", "42", 1, [(None, {})], mapping)
    event = entry_event("directus", "articles", "42", 1, [(None, {"collection": "articles"})], mapping)
    assert event.docs[0].fetch_url == "https://cms/items/articles/42"
