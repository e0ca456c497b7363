"""What the indexer writes for each kind of change, on the in-memory store with a hashing embedder: which
chunks get embedded, which are written and deleted, and what the document's record says afterwards."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import pytest
from prometheus_client import CollectorRegistry

from freshrag.catalog import Target
from freshrag.chunking import Chunker
from freshrag.documents import Change, DocStatus, DocumentRecord, Op, SourceKind
from freshrag.pipeline import Indexer
from freshrag.sources import FileState, Gone, Loaded, LoadResult
from freshrag.state.locks import InProcessLocks
from freshrag.store import ChunkPoint, ChunkQuery
from freshrag.store.memory import MemoryStore
from freshrag.telemetry import Metrics
from tests.unit.fakes import HashingEmbedder, parse_paragraphs

DOC = "file:notes-1234/guide.md"


class Files:
    """The documents as the loader finds them now: uri to bytes; a missing uri is a deleted file."""

    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}

    def __call__(self, change: Change) -> LoadResult:
        data = self.data.get(change.uri)
        return Gone() if data is None else Loaded(data, FileState(len(data), 1))


class RecordingStore(MemoryStore):
    """The in-memory store, noting the order of chunk writes and deletes."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[tuple[str, list[str]]] = []

    def upsert_chunks(self, points: Sequence[ChunkPoint], collection: str | None = None) -> None:
        self.writes.append(("upsert", [point.id for point in points]))
        super().upsert_chunks(points, collection)

    def delete_chunks(self, ids: Sequence[str], collection: str | None = None) -> None:
        if ids:
            self.writes.append(("delete", list(ids)))
        super().delete_chunks(ids, collection)


class Fixture:
    def __init__(self, max_chunks: int = 100, files: Files | None = None) -> None:
        self.embedder = HashingEmbedder()
        self.store = RecordingStore()
        self.store.ensure_collections(self.embedder.dimension, self.embedder.model_version)
        self.files = files or Files()
        target = Target(self.store.live_collection(), self.embedder)
        self.indexer = Indexer(
            self.store,
            _Fixed([target]),
            Chunker(self.embedder.count_tokens, max_tokens=64, target_tokens=32),
            InProcessLocks(),
            Metrics(CollectorRegistry()),
            self.files,
            max_chunks=max_chunks,
            parse=parse_paragraphs,
        )

    def save(self, *paragraphs: str) -> None:
        self.files.data["guide.md"] = "\n\n".join(paragraphs).encode()

    def apply(self, version: int | None = None) -> tuple[str, int, int, str | None]:
        change = Change(DOC, Op.UPSERT, SourceKind.FILE, "guide.md", version=version)
        outcome = self.indexer.apply(change)
        return outcome.outcome, outcome.embedded, outcome.reused, outcome.reason

    def record(self) -> DocumentRecord:
        record = self.store.get_record(DOC)
        assert record is not None
        return record

    def searchable(self) -> set[str]:
        """The texts a search can return now."""
        return {payload["text"] for payload in self.store.all_chunk_payloads()}

    def found(self, query: str) -> list[str]:
        hits = self.store.search(ChunkQuery(limit=3, dense=self.embedder.embed_query(query)))
        return [hit.payload["text"] for hit in hits]


class _Fixed:
    def __init__(self, targets: list[Target]) -> None:
        self._targets = targets

    def write_targets(self) -> list[Target]:
        return self._targets


@pytest.fixture
def fx() -> Fixture:
    return Fixture()


def test_a_new_document_is_embedded_written_and_recorded(fx: Fixture) -> None:
    fx.save("install the agent", "configure the proxy", "rotate the keys")

    assert fx.apply() == ("indexed", 3, 0, None)

    assert fx.searchable() == {"install the agent", "configure the proxy", "rotate the keys"}
    assert fx.found("rotate the keys")[0] == "rotate the keys"
    record = fx.record()
    assert (record.status, record.version, record.chunk_count) == (DocStatus.INDEXED, 1, 3)
    assert (record.title, record.pending_chunk_ids) == ("guide", [])


def test_an_edit_embeds_only_the_changed_chunk_and_writes_before_it_deletes(fx: Fixture) -> None:
    fx.save("install the agent", "configure the proxy", "rotate the keys")
    fx.apply()
    fx.embedder.embedded.clear()
    fx.store.writes.clear()

    fx.save("install the agent", "configure the proxy on port 8080", "rotate the keys")

    assert fx.apply() == ("indexed", 1, 2, None)
    assert fx.embedder.embedded == ["guide\npart 1\n\nconfigure the proxy on port 8080"]
    assert fx.searchable() == {"install the agent", "configure the proxy on port 8080", "rotate the keys"}
    # The old passage goes only after the new one is in: the document never vanishes from search.
    assert [kind for kind, _ in fx.store.writes] == ["upsert", "delete"]
    assert (fx.record().version, fx.record().chunk_count) == (2, 3)


def test_saving_the_same_content_again_embeds_and_writes_nothing(fx: Fixture) -> None:
    fx.save("install the agent", "configure the proxy")
    fx.apply()
    fx.embedder.embedded.clear()
    fx.store.writes.clear()

    assert fx.apply() == ("unchanged", 0, 2, None)

    assert fx.embedder.embedded == []
    assert fx.store.writes == []
    assert fx.record().version == 1


def test_a_deleted_document_leaves_search_and_keeps_a_tombstone(fx: Fixture) -> None:
    fx.save("install the agent", "configure the proxy")
    fx.apply()
    del fx.files.data["guide.md"]

    assert fx.apply() == ("deleted", 0, 0, None)

    assert fx.searchable() == set()
    record = fx.record()
    assert (record.status, record.version, record.chunk_count) == (DocStatus.DELETED, 2, 0)


def test_deleting_a_document_never_indexed_writes_no_record(fx: Fixture) -> None:
    assert fx.apply()[0] == "deleted"

    assert fx.store.get_record(DOC) is None


def test_a_document_over_the_chunk_limit_fails_and_leaves_search() -> None:
    fx = Fixture(max_chunks=2)
    fx.save("install the agent", "configure the proxy")
    fx.apply()
    fx.embedder.embedded.clear()

    fx.save("install the agent", "configure the proxy", "rotate the keys")
    outcome, embedded, _, reason = fx.apply()

    assert (outcome, embedded) == ("failed", 0)
    assert reason == "3 chunks, over the limit of 2 per document (FRESHRAG_MAX_CHUNKS_PER_DOCUMENT)"
    assert fx.embedder.embedded == []
    assert fx.searchable() == set()  # no half of the new text, and none of the old
    assert (fx.record().status, fx.record().reason, fx.record().version) == (DocStatus.FAILED, reason, 2)


def test_an_older_version_never_overwrites_a_newer_one(fx: Fixture) -> None:
    fx.save("the new text")
    fx.apply(version=5)
    fx.save("the old text")

    assert fx.apply(version=4)[0] == "stale"

    assert fx.searchable() == {"the new text"}
    assert fx.record().source_version == 5


def test_a_file_without_text_is_skipped_with_its_reason(fx: Fixture) -> None:
    fx.save("install the agent")
    fx.apply()
    fx.files.data["guide.md"] = b"\n\n"

    assert fx.apply() == ("skipped", 0, 0, "no extractable text")

    assert fx.searchable() == set()


def test_a_change_reaches_every_target_each_embedded_by_its_own_model() -> None:
    fx = Fixture()
    candidate = HashingEmbedder("candidate")
    fx.store.create_chunk_collection("candidate-chunks", candidate.dimension)
    live = Target(fx.store.live_collection(), fx.embedder)
    fx.indexer = Indexer(
        fx.store,
        _Fixed([live, Target("candidate-chunks", candidate)]),
        Chunker(fx.embedder.count_tokens, max_tokens=64, target_tokens=32),
        InProcessLocks(),
        Metrics(CollectorRegistry()),
        fx.files,
        parse=parse_paragraphs,
    )
    fx.save("install the agent", "configure the proxy")

    assert fx.apply()[:2] == ("indexed", 2)  # counted once, for the live collection

    assert len(fx.embedder.embedded) == len(candidate.embedded) == 2
    for collection, model in ((live.collection, fx.embedder), ("candidate-chunks", candidate)):
        query = model.embed_query("guide\npart 1\n\nconfigure the proxy")  # the chunk's text as embedded
        hits = fx.store.search(ChunkQuery(limit=1, dense=query), collection)
        assert hits[0].payload["text"] == "configure the proxy"
        assert hits[0].score == pytest.approx(1.0, abs=1e-5)


class Acked(Files):
    """A source that keeps a record of what was applied, as the CMS entry journal does."""

    def __init__(self) -> None:
        super().__init__()
        self.acked: list[bytes | None] = []

    def __call__(self, change: Change) -> LoadResult:
        loaded = super().__call__(change)
        state = self.data.get(change.uri)
        return replace(loaded, ack=lambda: self.acked.append(state))


@pytest.mark.parametrize(
    ("content", "outcome"),
    [(b"install the agent", "indexed"), (None, "deleted"), (b"\n\n", "skipped"), (b"a\n\nb\n\nc", "failed")],
)
def test_the_outcome_hands_back_the_acknowledgement_of_the_state_it_planned_from(
    content: bytes | None, outcome: str
) -> None:
    acked = Acked()
    fx = Fixture(max_chunks=2, files=acked)
    if content is not None:
        acked.data["guide.md"] = content

    done = fx.indexer.apply(Change(DOC, Op.UPSERT, SourceKind.FILE, "guide.md"))

    assert (done.outcome, acked.acked) == (outcome, [])  # the worker acknowledges, once it is settled
    done.ack()
    assert acked.acked == [content]


def test_a_stale_change_loads_nothing_and_so_acknowledges_nothing() -> None:
    acked = Acked()
    fx = Fixture(files=acked)
    acked.data["guide.md"] = b"the new text"
    fx.apply(version=5)

    stale = fx.indexer.apply(Change(DOC, Op.UPSERT, SourceKind.FILE, "guide.md", version=4))

    stale.ack()
    assert (stale.outcome, acked.acked) == ("stale", [])
