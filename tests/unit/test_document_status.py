"""The status a user sees for a document (`GET /documents`, `GET /status`, `freshrag status`, MCP): a dead
letter over the record over a waiting change, with the kind of source the document comes from."""

from __future__ import annotations

import pytest

from freshrag.document_status import DocumentStatus
from freshrag.documents import Change, DocStatus, DocumentRecord, Op, SourceKind
from freshrag.reasons import reason_kind
from freshrag.state.dead_letters import DeadLetter
from freshrag.state.pending import InProcessPending
from freshrag.store.memory import MemoryStore
from tests.unit.fakes import MemoryDeadLetters

FILE = "file:notes-1234/guide.md"


class Fixture:
    def __init__(self) -> None:
        self.store = MemoryStore()
        self.letters = MemoryDeadLetters()
        self.pending = InProcessPending(ttl_seconds=60, interval_seconds=0)
        self.view = DocumentStatus(self.store, self.letters, self.pending)

    def record(self, doc_id: str, status: DocStatus, reason: str | None = None, chunks: int = 0) -> None:
        ids = [f"{doc_id}#{n}" for n in range(chunks)]
        self.store.put_record(
            DocumentRecord(doc_id, status, SourceKind.FILE, f"/{doc_id}", reason=reason, chunk_ids=ids)
        )

    def dead_letter(self, doc_id: str, kind: SourceKind = SourceKind.FILE, failed_at: float = 50.0) -> None:
        change = Change(doc_id, Op.UPSERT, kind, f"/{doc_id}", detected_at=1.0)
        self.letters.add(DeadLetter(change, "ConnectionError: store down", 5, failed_at))


@pytest.fixture
def fx() -> Fixture:
    return Fixture()


def test_an_unknown_document_has_no_status(fx: Fixture) -> None:
    assert fx.view.get(FILE) is None


def test_a_dead_letter_shows_failed_over_the_indexed_record_which_stays_searchable(fx: Fixture) -> None:
    fx.record(FILE, DocStatus.INDEXED, chunks=3)
    fx.dead_letter(FILE)

    shown = fx.view.get(FILE)

    assert shown is not None
    assert (shown.status, shown.chunk_count, shown.updated_at) == (DocStatus.FAILED, 3, 50.0)
    assert shown.reason == "dead letter after 5 attempts: ConnectionError: store down"


def test_a_dead_letter_of_a_document_never_indexed_keeps_its_kind(fx: Fixture) -> None:
    fx.dead_letter("contentful:article:42", SourceKind.CMS)

    shown = fx.view.get("contentful:article:42")

    assert shown is not None
    assert (shown.status, shown.source_kind, shown.uri) == (
        DocStatus.FAILED,
        SourceKind.CMS,
        "/contentful:article:42",
    )


def test_a_waiting_change_of_an_indexed_document_leaves_it_shown_as_indexed(fx: Fixture) -> None:
    fx.record(FILE, DocStatus.INDEXED, chunks=1)
    fx.pending.claim(FILE, detected_at=10.0)

    shown = fx.view.get(FILE)

    assert shown is not None
    assert shown.status is DocStatus.INDEXED


@pytest.mark.parametrize(
    ("doc_id", "kind"),
    [
        (FILE, SourceKind.FILE),
        ("git:acme-docs-5678/README.md", SourceKind.GIT),
        ("contentful:article:42:en-US", SourceKind.CMS),
        ("strapi:page:7", SourceKind.CMS),
    ],
)
def test_a_document_seen_but_not_indexed_yet_is_pending_as_its_own_kind(
    fx: Fixture, doc_id: str, kind: SourceKind
) -> None:
    fx.pending.claim(doc_id, detected_at=10.0)

    shown = fx.view.get(doc_id)

    assert shown is not None
    assert (shown.status, shown.source_kind, shown.updated_at) == (DocStatus.PENDING, kind, 10.0)


def test_the_failed_list_shows_each_document_once_dead_letters_first(fx: Fixture) -> None:
    fx.record("file:r/a.md", DocStatus.FAILED, reason="parser crashed")
    fx.record("file:r/b.md", DocStatus.INDEXED, chunks=2)
    fx.record("file:r/c.md", DocStatus.FAILED, reason="parser crashed")
    fx.dead_letter("file:r/b.md")
    fx.dead_letter("file:r/c.md", failed_at=60.0)

    failed = fx.view.listed(DocStatus.FAILED)

    assert [record.doc_id for record in failed] == ["file:r/b.md", "file:r/c.md", "file:r/a.md"]
    assert {record.status for record in failed} == {DocStatus.FAILED}
    assert fx.view.listed(DocStatus.FAILED, limit=2) == failed[:2]


def test_a_dead_lettered_document_is_not_listed_under_its_records_status(fx: Fixture) -> None:
    fx.record("file:r/a.md", DocStatus.INDEXED, chunks=1)
    fx.record("file:r/b.md", DocStatus.INDEXED, chunks=1)
    fx.dead_letter("file:r/b.md")

    assert [record.doc_id for record in fx.view.listed(DocStatus.INDEXED)] == ["file:r/a.md"]
    assert [(r.doc_id, r.status) for r in fx.view.listed()] == [
        ("file:r/b.md", DocStatus.FAILED),
        ("file:r/a.md", DocStatus.INDEXED),
    ]


def test_problems_count_every_document_not_indexed_by_reason_and_show_a_bounded_few(fx: Fixture) -> None:
    for n in range(4):
        fx.record(f"file:r/skip{n}.txt", DocStatus.SKIPPED, reason="unsupported file type: '.bin' files")
    fx.record("file:r/big.md", DocStatus.FAILED, reason="3 chunks, over the limit")
    fx.dead_letter("file:r/big.md")
    fx.dead_letter("file:r/other.md", failed_at=70.0)

    problems = fx.view.problems(shown=3)

    assert problems.dead_letters == 2
    assert [record.doc_id for record in problems.shown] == [
        "file:r/big.md",
        "file:r/other.md",
        "file:r/skip0.txt",
    ]
    unsupported = reason_kind("unsupported file type: '.bin' files")
    assert problems.by_reason == {
        reason_kind("dead letter after 5 attempts: ConnectionError"): 2,
        unsupported: 4,
    }
