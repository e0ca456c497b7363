"""What the worker reads of a CMS document, and the acknowledgement that marks that very state applied."""

from __future__ import annotations

from freshrag.sources import Gone, Loaded
from freshrag.state.entries import StoredDoc
from freshrag.webhooks.loading import EntryLoader

DOC = "contentful:article:42"


class Journal:
    """The part of the entry journal the loader uses, in a dict."""

    def __init__(self) -> None:
        self.docs: dict[str, StoredDoc] = {}
        self.applied: list[tuple[str, float]] = []

    def get(self, doc_id: str) -> StoredDoc | None:
        return self.docs.get(doc_id)

    def mark_applied(self, doc_id: str, received_at: float) -> None:
        self.applied.append((doc_id, received_at))


def stored(version: int, received_at: float, *, present: bool = True) -> StoredDoc:
    return StoredDoc(
        DOC, DOC, "contentful", "article", version, present, "Tides", "The moon.", "", None, received_at
    )


def test_the_acknowledgement_marks_the_state_loaded_even_once_a_later_one_is_stored() -> None:
    journal = Journal()
    journal.docs[DOC] = stored(7, received_at=100.0)
    loaded = EntryLoader(journal, settings=None).load(DOC)  # nothing is fetched
    journal.docs[DOC] = stored(8, received_at=101.0)  # stored while the worker indexes version 7

    loaded.ack()

    assert isinstance(loaded, Loaded)
    assert (loaded.version, loaded.title, loaded.data) == (7, "Tides", b"The moon.")
    assert journal.applied == [(DOC, 100.0)]  # version 8 stays to be applied by its own task


def test_a_removed_entry_is_gone_and_its_removal_is_acknowledged() -> None:
    journal = Journal()
    journal.docs[DOC] = stored(9, received_at=102.0, present=False)

    loaded = EntryLoader(journal, settings=None).load(DOC)
    loaded.ack()

    assert isinstance(loaded, Gone)
    assert journal.applied == [(DOC, 102.0)]


def test_an_entry_the_journal_never_held_is_gone_with_nothing_to_acknowledge() -> None:
    journal = Journal()

    loaded = EntryLoader(journal, settings=None).load(DOC)
    loaded.ack()

    assert isinstance(loaded, Gone)
    assert journal.applied == []
