"""The scheduled sweep over the webhook journals: what it sends again, and what it leaves."""

from __future__ import annotations

import json

from freshrag.documents import Change, Op, SourceKind
from freshrag.state.dead_letters import DeadLetter
from freshrag.state.entries import StoredDoc
from freshrag.state.pushes import RepositoryPushRecord
from freshrag.webhooks.intake import resubmit_unapplied
from tests.unit.fakes import MemoryDeadLetters


class Pushes:
    def __init__(self) -> None:
        self.latest: dict[str, RepositoryPushRecord] = {}

    def put(self, push: RepositoryPushRecord) -> bool:
        self.latest[push.repository] = push
        return True

    def unpulled(self, received_before: float) -> list[RepositoryPushRecord]:
        return [p for p in self.latest.values() if not p.pulled and p.received_at < received_before]


class Journal:
    def __init__(self, *docs: StoredDoc) -> None:
        self.docs = {doc.doc_id: doc for doc in docs}
        self.applied: list[str] = []
        self.pushes = Pushes()

    def unapplied(self, received_before: float) -> list[StoredDoc]:
        return [
            d for d in self.docs.values() if d.doc_id not in self.applied and d.received_at < received_before
        ]

    def mark_applied(self, doc_id: str, received_at: float) -> None:
        self.applied.append(doc_id)


class Queue:
    def __init__(self) -> None:
        self.submitted: list[str] = []
        self.synced: list[tuple[str, str, str, float]] = []

    def submit(self, change: Change) -> bool:
        self.submitted.append(change.doc_id)
        return True

    def sync_repository(self, repository: str, clone_url: str, ref: str, received_at: float) -> None:
        self.synced.append((repository, clone_url, ref, received_at))


def entry(doc_id: str, received_at: float = 1.0) -> StoredDoc:
    return StoredDoc(doc_id, doc_id, "strapi", "page", 1, True, "T", "Body.", "", None, received_at)


def test_unapplied_entries_are_sent_again_except_dead_letters() -> None:
    journal = Journal(entry("strapi:page:1"), entry("strapi:page:2"))
    letters = MemoryDeadLetters()
    change = Change("strapi:page:2", Op.UPSERT, SourceKind.CMS, "strapi:page:2")
    letters.add(DeadLetter(change, "HTTPError: 500", 4, 2.0))
    queue = Queue()

    assert resubmit_unapplied(journal, queue, 10.0, dead_letters=letters) == 1

    assert queue.submitted == ["strapi:page:1"]  # a dead letter is kept until replayed


def test_a_push_not_pulled_is_pulled_again() -> None:
    journal = Journal()
    journal.pushes.put(RepositoryPushRecord("acme/handbook", "https://x/h.git", "refs/heads/main", 3.0))
    queue = Queue()

    assert resubmit_unapplied(journal, queue, 10.0, dead_letters=MemoryDeadLetters()) == 1

    assert queue.synced == [("acme/handbook", "https://x/h.git", "refs/heads/main", 3.0)]
    assert queue.submitted == []


def test_a_push_an_older_version_journalled_as_an_entry_moves_to_the_push_journal() -> None:
    details = json.dumps({"clone_url": "https://x/h.git", "ref": "refs/heads/main"})
    legacy = StoredDoc(
        "github:repository:acme/handbook", "github:repository:acme/handbook", "github", "repository", 3000,
        True, "acme/handbook", details, "https://x/h.git", None, 3.0,
    )  # fmt: skip
    journal = Journal(legacy)
    queue = Queue()

    assert resubmit_unapplied(journal, queue, 10.0, dead_letters=MemoryDeadLetters()) == 1

    assert queue.submitted == []  # never indexed as if it were a document
    assert queue.synced == [("acme/handbook", "https://x/h.git", "refs/heads/main", 3.0)]
    assert journal.applied == ["github:repository:acme/handbook"]
