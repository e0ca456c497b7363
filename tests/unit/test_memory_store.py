"""What `MemoryStore` promises beyond the shared contract (tests/integration/test_store_contract.py): it hands
out copies, refuses what the engine refuses, computes BM25 as Qdrant does, and holds under threads."""

from __future__ import annotations

import math
import threading

import numpy as np
import pytest

from freshrag.documents import DocStatus, DocumentRecord, SourceKind
from freshrag.store import ChunkPoint, ChunkQuery, SparseVector, chunk_collection
from freshrag.store.memory import MemoryStore

DIMENSION = 4


def chunk(point_id: str, axis: int, terms: dict[int, float], **payload: object) -> ChunkPoint:
    vector = np.zeros(DIMENSION, dtype=np.float32)
    vector[axis] = 2.0  # not unit-length: the store normalises it
    return ChunkPoint(
        point_id, vector, {"doc_id": point_id, **payload}, SparseVector(list(terms), list(terms.values()))
    )


@pytest.fixture
def store() -> MemoryStore:
    made = MemoryStore()
    made.ensure_collections(DIMENSION, "m")
    return made


def test_nothing_is_live_before_ensure_collections() -> None:
    with pytest.raises(RuntimeError, match="no live collection"):
        MemoryStore().count_chunks()


def test_an_unknown_collection_is_a_key_error(store: MemoryStore) -> None:
    with pytest.raises(KeyError, match="nowhere"):
        store.chunk_ids("nowhere")
    with pytest.raises(ValueError, match="nowhere"):
        store.swap_alias("nowhere")


def test_a_vector_of_the_wrong_dimension_stores_nothing(store: MemoryStore) -> None:
    good = chunk("a", 0, {1: 1.0})
    bad = ChunkPoint("b", np.ones(DIMENSION + 1, dtype=np.float32), {"doc_id": "b"}, SparseVector([], []))

    with pytest.raises(ValueError, match="point b"):
        store.upsert_chunks([good, bad])
    assert store.count_chunks() == 0


def test_payloads_vectors_and_records_are_copies(store: MemoryStore) -> None:
    point = chunk("a", 0, {1: 1.0}, heading=("Top", "Sub"))
    store.upsert_chunks([point])
    point.payload["doc_id"] = "changed by the caller"
    store.chunk_payloads(["a"], store.live_collection())["a"]["doc_id"] = "changed again"
    store.chunk_vectors(["a"], store.live_collection())["a"][1][:] = 0

    payload, vector = store.chunk_vectors(["a"], store.live_collection())["a"]
    assert payload == {"doc_id": "a", "heading": ["Top", "Sub"]}  # through JSON, as from a server
    np.testing.assert_allclose(vector, [1.0, 0.0, 0.0, 0.0])  # stored unit-length, as for cosine

    record = DocumentRecord("d", DocStatus.INDEXED, SourceKind.FILE, "/d.md", chunk_ids=["a"])
    store.put_record(record)
    record.chunk_ids.append("b")
    fetched = store.get_record("d")
    assert fetched is not None
    assert fetched.chunk_ids == ["a"]


def test_keyword_scores_are_bm25_with_qdrant_idf(store: MemoryStore) -> None:
    store.upsert_chunks([chunk("a", 0, {7: 1.5, 8: 1.0}), chunk("b", 1, {7: 0.5}), chunk("c", 2, {9: 1.0})])

    hits = store.search(ChunkQuery(limit=10, sparse=SparseVector([7, 8], [1.0, 1.0])))

    def idf(holders: int, total: int = 3) -> float:
        return math.log(1 + (total - holders + 0.5) / (holders + 0.5))

    assert [h.id for h in hits] == ["a", "b"]  # c shares no term
    assert hits[0].score == pytest.approx(1.5 * idf(2) + 1.0 * idf(1))
    assert hits[1].score == pytest.approx(0.5 * idf(2))


def test_where_matches_a_value_inside_a_list_field(store: MemoryStore) -> None:
    store.upsert_chunks([chunk("a", 0, {}, tags=["x", "y"]), chunk("b", 1, {}, tags=["z"])])

    hits = store.search(ChunkQuery(limit=5, dense=np.ones(DIMENSION), where={"tags": "y"}))

    assert [h.id for h in hits] == ["a"]


def test_records_can_be_written_while_they_are_listed(store: MemoryStore) -> None:
    for name in "abc":
        store.put_record(DocumentRecord(name, DocStatus.PENDING, SourceKind.FILE, f"/{name}"))

    for record in store.records(status=DocStatus.PENDING):
        store.put_record(DocumentRecord(record.doc_id, DocStatus.INDEXED, SourceKind.FILE, record.uri))

    assert store.count_records()[DocStatus.INDEXED] == 3


def test_concurrent_writers_and_readers(store: MemoryStore) -> None:
    other = chunk_collection("other")
    store.create_chunk_collection(other, DIMENSION)
    errors: list[BaseException] = []

    def write(offset: int) -> None:
        try:
            for i in range(200):
                store.upsert_chunks([chunk(f"{offset}-{i}", i % DIMENSION, {i: 1.0})])
                store.search(ChunkQuery(limit=3, dense=np.ones(DIMENSION), sparse=SparseVector([i], [1.0])))
                store.sample_vectors(5)
                if i % 50 == 0:
                    store.swap_alias(other if i % 100 else chunk_collection("m"))
        except BaseException as exc:  # collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    total = len(store.chunk_ids(chunk_collection("m"))) + len(store.chunk_ids(other))
    assert total == 4 * 200
