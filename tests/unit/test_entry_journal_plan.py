"""What the entry journal writes for an event: monotonic versions, removals win ties, vanished locales go."""

from __future__ import annotations

from dataclasses import replace

from freshrag.state.entries import EntryState, plan_put, settled
from freshrag.webhooks.model import EntryDoc, EntryEvent


def event(version: int, *locales: str) -> EntryEvent:
    docs = tuple(EntryDoc(f"cms:page:1:{locale}", "Title", f"text {locale}") for locale in locales)
    return EntryEvent("cms:page:1", "cms", "page", version, docs)


def test_a_first_event_writes_its_documents() -> None:
    writes = plan_put(None, event(5, "en", "de"), received_at=1.0)
    assert writes is not None
    assert [(doc.doc_id, doc.present) for doc in writes] == [("cms:page:1:en", True), ("cms:page:1:de", True)]


def test_an_older_event_writes_nothing() -> None:
    current = EntryState(version=5, deleted=False, doc_ids=("cms:page:1:en",))
    assert plan_put(current, event(4, "en"), received_at=2.0) is None


def test_an_equal_version_rewrites_an_upsert_but_never_resurrects_a_removal() -> None:
    assert plan_put(EntryState(5, False, ("cms:page:1:en",)), event(5, "en"), 2.0) is not None
    assert plan_put(EntryState(5, True, ("cms:page:1:en",)), event(5, "en"), 2.0) is None
    removal = plan_put(EntryState(5, False, ("cms:page:1:en",)), event(5), 2.0)
    assert removal is not None
    assert [(doc.doc_id, doc.present) for doc in removal] == [("cms:page:1:en", False)]


def test_a_locale_missing_from_a_newer_event_is_removed() -> None:
    writes = plan_put(EntryState(5, False, ("cms:page:1:de", "cms:page:1:en")), event(6, "en"), 3.0)
    assert writes is not None
    assert {doc.doc_id: doc.present for doc in writes} == {"cms:page:1:en": True, "cms:page:1:de": False}


def test_a_removal_on_another_clock_takes_the_stored_version_and_wins_the_tie() -> None:
    """A delete stamped with its receipt time (Ghost, a WordPress delete, Directus...) is compared on the
    entry's own clock: a CMS clock ahead of ours cannot keep the entry alive, and a sequence number is
    not shadowed by a time in milliseconds."""
    current = EntryState(version=7, deleted=False, doc_ids=("cms:page:1:en",))
    removal = settled(current, replace(event(1_700_000_000_000), versioned=False))
    assert removal.version == 7
    writes = plan_put(current, removal, 2.0)
    assert writes is not None
    assert [(doc.doc_id, doc.present) for doc in writes] == [("cms:page:1:en", False)]
    assert plan_put(EntryState(7, True, ("cms:page:1:en",)), event(8, "en"), 3.0) is not None
    # a removal that carries the entry's own version keeps it; one of an entry never seen is the lowest,
    # so that a sender numbering its versions 1, 2, 3 can publish the entry afterwards
    assert settled(current, event(4)).version == 4
    first = settled(None, replace(event(1_700_000_000_000), versioned=False))
    assert first.version == 0
    assert plan_put(EntryState(first.version, True, ()), event(1, "en"), 3.0) is not None


def test_a_withheld_document_is_written_unsearchable_with_its_fields() -> None:
    draft = EntryDoc("cms:page:1", "Title", "text", fields={"title": "Title", "body": "text"})
    unpublished = EntryEvent("cms:page:1", "cms", "page", 6, withheld=(draft,))
    writes = plan_put(EntryState(5, False, ("cms:page:1",)), unpublished, 3.0)
    assert writes is not None
    assert [(doc.doc_id, doc.present, doc.fields) for doc in writes] == [
        ("cms:page:1", False, {"title": "Title", "body": "text"})
    ]
