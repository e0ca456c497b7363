"""The status a user sees for a document: the one place that combines what each part of freshrag knows of it.

Three owners each hold part of a document's state: the queue's claim (`freshrag.state.pending`: a change of it
is waiting), the store's record (what was indexed, or why not) and the dead letters (its latest change kept
failing). Their order is fixed here and only here: a dead letter over the record (the document is failed, with
the reason, whatever the index still holds), the record over a claim (a waiting change is news only for a
document the index has never recorded). `GET /documents`, `GET /status`, the status page and `freshrag status`
all read documents through `DocumentStatus`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Protocol

from freshrag.documents import DocStatus, DocumentRecord, source_kind_of
from freshrag.reasons import reason_kind
from freshrag.state.dead_letters import DeadLetter, DeadLetters
from freshrag.state.pending import PendingChanges


class Records(Protocol):
    """What the view reads of the store."""

    def get_record(self, doc_id: str) -> DocumentRecord | None: ...

    def records(
        self, *, status: DocStatus | None = None, root: str | None = None
    ) -> Iterator[DocumentRecord]: ...


@dataclass(frozen=True)
class Problems:
    """The documents not indexed: dead letters first, then failed and skipped records (`shown`, at most the
    number asked for), every one of them counted by kind of reason, and how many are dead letters."""

    shown: list[DocumentRecord] = field(default_factory=list)
    by_reason: Counter[str] = field(default_factory=Counter)
    dead_letters: int = 0


class DocumentStatus:
    """The effective status of documents: dead letter over record over claim."""

    def __init__(self, records: Records, dead_letters: DeadLetters, pending: PendingChanges) -> None:
        self._records = records
        self._dead_letters = dead_letters
        self._pending = pending

    def get(self, doc_id: str) -> DocumentRecord | None:
        """`doc_id` as a user sees it, or None when freshrag knows nothing of it."""
        record = self._records.get_record(doc_id)
        letter = self._dead_letters.get(doc_id)
        if letter is not None:
            return dead_lettered(letter, record)
        if record is not None:
            return record
        detected = self._pending.waiting(doc_id)
        if detected is None:
            return None
        # Seen but never indexed: its change is waiting in the queue.
        return DocumentRecord(doc_id, DocStatus.PENDING, source_kind_of(doc_id), uri="", updated_at=detected)

    def listed(self, status: DocStatus | None = None, limit: int = 100) -> list[DocumentRecord]:
        """Up to `limit` documents with the effective `status` (any when None), dead letters first."""
        letters = {letter.change.doc_id: letter for letter in self._dead_letters.all()}
        found = []
        if status in (None, DocStatus.FAILED):
            found = [
                dead_lettered(letter, self._records.get_record(doc_id)) for doc_id, letter in letters.items()
            ]
        for record in self._records.records(status=status):
            if len(found) >= limit:
                break
            if record.doc_id not in letters:
                found.append(record)
        return found[:limit]

    def problems(self, shown: int) -> Problems:
        """The documents not indexed, with their reasons: every dead letter shown, and failed or skipped
        records after them up to `shown` in all."""
        letters = self._dead_letters.all()
        found = Problems(
            [dead_lettered(letter, self._records.get_record(letter.change.doc_id)) for letter in letters],
            dead_letters=len(letters),
        )
        found.by_reason.update(reason_kind(record.reason) for record in found.shown)
        lettered = {letter.change.doc_id for letter in letters}
        for state in (DocStatus.FAILED, DocStatus.SKIPPED):
            for record in self._records.records(status=state):
                if record.doc_id in lettered:
                    continue
                found.by_reason[reason_kind(record.reason)] += 1
                if len(found.shown) < shown:
                    found.shown.append(record)
        return found


def dead_lettered(letter: DeadLetter, indexed: DocumentRecord | None) -> DocumentRecord:
    """A dead-lettered document: failed, with the reason, over whatever the index still holds of it."""
    reason = f"dead letter after {letter.attempts} attempts: {letter.reason}"
    if indexed is None:
        change = letter.change
        indexed = DocumentRecord(change.doc_id, DocStatus.FAILED, change.source_kind, change.uri, change.root)
    return replace(indexed, status=DocStatus.FAILED, reason=reason, updated_at=letter.failed_at)
