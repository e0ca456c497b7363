"""Feedback's fields: what a query and a document id may be, and the stored form."""

from __future__ import annotations

import pytest

from freshrag.state.feedback import MAX_DOC_ID_CHARS, MAX_QUERY_CHARS, Feedback, checked_feedback


def test_the_query_is_stripped_and_the_doc_id_kept_as_given() -> None:
    assert checked_feedback("  how do I reset it?\n", " file:docs/a b.md ") == (
        "how do I reset it?",
        " file:docs/a b.md ",
    )


def test_the_longest_fields_are_accepted() -> None:
    query, doc_id = "q" * MAX_QUERY_CHARS, "d" * MAX_DOC_ID_CHARS
    assert checked_feedback(f"  {query}  ", doc_id) == (query, doc_id)


@pytest.mark.parametrize(
    ("query", "doc_id", "message"),
    [
        ("", "doc", "query is empty"),
        (" \t\n ", "doc", "query is empty"),
        ("q" * (MAX_QUERY_CHARS + 1), "doc", "query is 4,097 characters long; at most 4,096"),
        ("query", "", "doc_id is empty"),
        ("query", "d" * (MAX_DOC_ID_CHARS + 1), "doc_id is 2,049 characters long; at most 2,048"),
        ("bad \ud800 query", "doc", "query is not valid Unicode"),
        ("query", "doc\udfff", "doc_id is not valid Unicode"),
    ],
)
def test_an_invalid_field_is_named(query: str, doc_id: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        checked_feedback(query, doc_id)


@pytest.mark.parametrize("relevant", [True, False])
def test_the_stored_form_round_trips(relevant: bool) -> None:
    feedback = Feedback("naïve café ✓ 日本語", 'cms:blog/"quoted"\n', relevant, 1_700_000_000.123456, seq=42)
    raw = feedback.to_json()
    assert "seq" not in raw  # the log keeps it as the entry's position
    assert Feedback.from_json(raw, seq=42) == feedback
    assert Feedback.from_json(raw.encode(), seq=42) == feedback  # Redis answers bytes


def test_a_typical_entry_takes_about_200_bytes() -> None:
    """The estimate the module's docstring gives operators."""
    feedback = Feedback(
        "how do I rotate the API token without downtime?",
        "file:handbook-1a2b3c4d/operations/tokens/rotation.md",
        True,
        1_700_000_000.123456,
    )
    assert 100 < len(feedback.to_json().encode()) < 200
