"""One contract, three stores: `EdgeStore` (Qdrant Edge in a temporary folder), `ServerStore` (qdrant-client's
local mode standing in for a server) and `MemoryStore` (the fake unit tests use) must answer every `Store`
call the same way. Vectors are small synthetic ones (dimension 8) and keyword vectors come from
`freshrag.store.keywords`, so no model is loaded."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from qdrant_client import QdrantClient

from freshrag.documents import DocStatus, DocumentRecord, SourceKind
from freshrag.store import ChunkPoint, ChunkQuery, Store, chunk_collection, chunk_point_id
from freshrag.store.edge import EdgeStore
from freshrag.store.keywords import chunk_terms, query_terms
from freshrag.store.memory import MemoryStore
from freshrag.store.server import ServerStore

DIMENSION = 8
MODEL = "model-1"
LIVE = chunk_collection(MODEL)
OTHER = chunk_collection("model-2")

# (doc id, chunk key, axis of its dense vector, source kind, text)
CHUNKS = [
    ("doc-a", "0", 0, "file", "The orange cat sleeps on the warm windowsill every afternoon."),
    ("doc-a", "1", 1, "file", "Quarterly revenue grew in the northern region."),
    ("doc-b", "0", 2, "cms", "The door code for the server room is 4711."),
    ("doc-b", "1", 3, "cms", "How to bake sourdough bread with a starter."),
    ("doc-c", "0", 4, "file", "Migrating birds cross the strait in autumn."),
    ("canary", "0", 5, "canary", "freshrag canary probe sourdough starter"),
]


def axis(index: int, noise: float = 0.05) -> np.ndarray:
    """A unit vector close to the `index`-th axis (the same small noise every run)."""
    vector = np.full(DIMENSION, noise, dtype=np.float32)
    vector[index] = 1.0
    return vector / np.linalg.norm(vector)


def point(doc_id: str, key: str, index: int, kind: str, text: str) -> ChunkPoint:
    payload = {"doc_id": doc_id, "text": text, "title": doc_id, "heading": ["Notes"], "source_kind": kind}
    return ChunkPoint(chunk_point_id(doc_id, key), axis(index), payload, chunk_terms(doc_id, ["Notes"], text))


POINTS = [point(*chunk) for chunk in CHUNKS]
BY_TEXT = {p.payload["text"]: p for p in POINTS}
CANARY = POINTS[-1]


def id_of(fragment: str) -> str:
    return next(p.id for p in POINTS if fragment in p.payload["text"])


@pytest.fixture(params=["edge", "server", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    made: Store
    if request.param == "edge":
        made = EdgeStore(tmp_path / "index")
    elif request.param == "server":
        made = ServerStore(QdrantClient(path=str(tmp_path / "qdrant")), local=True)
    else:
        made = MemoryStore()
    made.ensure_collections(DIMENSION, MODEL)
    yield made
    made.close()


@pytest.fixture
def filled(store: Store) -> Store:
    store.upsert_chunks(POINTS)
    return store


def record(doc_id: str, status: DocStatus, root: str | None, **fields: object) -> DocumentRecord:
    return DocumentRecord(
        doc_id=doc_id,
        status=status,
        source_kind=SourceKind.FILE,
        uri=f"/notes/{doc_id}.md",
        root=root,
        **fields,  # type: ignore[arg-type]
    )


# ---- collections and the live pointer --------------------------------------------------------------


def test_ensure_collections_is_idempotent_and_makes_the_first_collection_live(filled: Store) -> None:
    filled.ensure_collections(DIMENSION, "another-model")

    assert filled.live_collection() == LIVE
    assert filled.chunk_collections() == [LIVE]
    assert filled.count_chunks() == len(POINTS)
    filled.ping()
    assert isinstance(filled.optimize(), bool)


def test_create_swap_and_drop_collections(filled: Store) -> None:
    filled.create_chunk_collection(OTHER, DIMENSION)
    filled.create_chunk_collection(OTHER, DIMENSION)  # idempotent
    filled.upsert_chunks(POINTS[:2], OTHER)
    assert filled.chunk_collections() == [LIVE, OTHER]

    filled.swap_alias(OTHER)
    assert filled.live_collection() == OTHER
    assert filled.count_chunks() == 2
    assert filled.existing_chunk_ids([p.id for p in POINTS]) == {POINTS[0].id, POINTS[1].id}

    with pytest.raises(ValueError, match="live"):
        filled.drop_collection(OTHER)
    filled.drop_collection(LIVE)
    assert filled.chunk_collections() == [OTHER]
    assert filled.count_chunks() == 2


# ---- chunks ----------------------------------------------------------------------------------------


def test_upsert_is_idempotent_by_id_and_replaces_the_payload(filled: Store) -> None:
    filled.upsert_chunks(POINTS)
    assert filled.count_chunks() == len(POINTS)

    first = POINTS[0]
    changed = ChunkPoint(first.id, first.vector, {**first.payload, "title": "renamed"}, first.sparse)
    filled.upsert_chunks([changed])

    assert filled.count_chunks() == len(POINTS)
    assert filled.chunk_payloads([first.id], LIVE)[first.id]["title"] == "renamed"


def test_delete_removes_only_the_named_chunks(filled: Store) -> None:
    gone = [POINTS[0].id, POINTS[2].id]
    filled.delete_chunks([*gone, chunk_point_id("nobody", "0")])
    filled.delete_chunks([])

    everything = [p.id for p in POINTS]
    assert filled.existing_chunk_ids(everything) == set(everything) - set(gone)
    assert filled.existing_chunk_ids(everything, LIVE) == set(everything) - set(gone)
    assert filled.count_chunks() == len(POINTS) - 2
    assert filled.existing_chunk_ids([]) == set()


def test_chunk_ids_of_finds_chunks_the_record_does_not_list(filled: Store) -> None:
    listed = chunk_point_id("doc-a", "0")
    filled.put_record(record("doc-a", DocStatus.INDEXED, "notes", chunk_ids=[listed]))

    assert filled.chunk_ids_of("doc-a") == {listed, chunk_point_id("doc-a", "1")}
    assert filled.chunk_ids_of("doc-a", LIVE) == {listed, chunk_point_id("doc-a", "1")}
    assert filled.chunk_ids_of("nobody") == set()


def test_chunk_ids_payloads_and_vectors(filled: Store) -> None:
    assert filled.chunk_ids(LIVE) == {p.id: p.payload["doc_id"] for p in POINTS}

    wanted = [POINTS[1].id, POINTS[3].id, chunk_point_id("nobody", "0")]
    payloads = filled.chunk_payloads(wanted, LIVE)
    assert payloads == {POINTS[1].id: POINTS[1].payload, POINTS[3].id: POINTS[3].payload}

    vectors = filled.chunk_vectors(wanted, LIVE)
    assert set(vectors) == {POINTS[1].id, POINTS[3].id}
    for point_id, (payload, vector) in vectors.items():
        stored = next(p for p in POINTS if p.id == point_id)
        assert payload == stored.payload
        np.testing.assert_allclose(vector, stored.vector, atol=1e-3)  # the embedded store keeps float16

    assert sorted(p["doc_id"] for p in filled.all_chunk_payloads()) == sorted(c[0] for c in CHUNKS)


def test_chunk_similarities_are_the_cosines_of_the_chunks_that_exist(filled: Store) -> None:
    query = axis(1, noise=0.3) * 4.0  # not unit length: a cosine is the same
    wanted = [POINTS[1].id, POINTS[3].id, chunk_point_id("nobody", "0")]

    similarities = filled.chunk_similarities(wanted, query, LIVE)

    assert set(similarities) == {POINTS[1].id, POINTS[3].id}
    unit = query / np.linalg.norm(query)
    for point_id, similarity in similarities.items():
        stored = next(p for p in POINTS if p.id == point_id).vector
        assert similarity == pytest.approx(float(np.dot(unit, stored / np.linalg.norm(stored))), abs=1e-3)


def test_dense_search_ranks_the_nearest_chunk_first(filled: Store) -> None:
    hits = filled.search(ChunkQuery(limit=3, dense=axis(3, noise=0.2)))

    assert len(hits) == 3
    assert hits[0].id == id_of("sourdough bread")
    assert hits[0].payload == BY_TEXT[CHUNKS[3][4]].payload
    assert hits[0].similarity == pytest.approx(hits[0].score)  # a dense score is the cosine
    assert hits[0].score == pytest.approx(float(np.dot(axis(3, noise=0.2), axis(3))), abs=1e-3)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_keyword_search_ranks_the_chunk_with_the_word_first(filled: Store) -> None:
    hits = filled.search(ChunkQuery(limit=5, sparse=query_terms("what is the door code?")))

    assert [h.id for h in hits] == [id_of("door code")]


def test_hybrid_search_lets_the_keyword_break_a_dense_tie(filled: Store) -> None:
    between = axis(0) + axis(3)
    between /= np.linalg.norm(between)

    for word, fragment in (("windowsill", "orange cat"), ("sourdough", "sourdough bread")):
        hits = filled.search(ChunkQuery(limit=3, dense=between, sparse=query_terms(word)))
        assert hits[0].id == id_of(fragment), word
        assert len(hits) == 3


def test_hybrid_scores_weigh_the_cosine_and_the_bm25_scaled_by_the_best(filled: Store) -> None:
    query = axis(1) + axis(2) + 0.5 * axis(0)
    query /= np.linalg.norm(query)
    terms = query_terms("door code for the orange cat on the windowsill")
    keyword = {hit.id: hit.score for hit in filled.search(ChunkQuery(limit=10, sparse=terms))}
    best = max(keyword.values())

    hits = filled.search(ChunkQuery(limit=4, dense=query, sparse=terms, weights=(0.7, 0.3)))

    assert len(hits) == 4
    for hit in hits:
        stored = next(p for p in POINTS if p.id == hit.id).vector
        cosine = float(np.dot(query, stored / np.linalg.norm(stored)))
        assert hit.similarity == pytest.approx(cosine, abs=1e-3)
        expected = 0.7 * max(cosine, 0.0) + 0.3 * keyword.get(hit.id, 0.0) / best
        assert hit.score == pytest.approx(expected, abs=1e-3), hit.payload["text"]
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert set(keyword) < {h.id for h in hits}  # both keyword hits, and dense-only ones beside them


def test_a_query_of_stop_words_finds_nothing_by_keyword(filled: Store) -> None:
    terms = query_terms("the of and to")
    assert terms.indices == []

    assert filled.search(ChunkQuery(limit=5, sparse=terms)) == []
    hybrid = filled.search(ChunkQuery(limit=2, dense=axis(2), sparse=terms))  # falls back to dense
    assert [h.id for h in hybrid][:1] == [id_of("door code")]


def test_where_filters_on_payload_fields(filled: Store) -> None:
    dense = filled.search(ChunkQuery(limit=10, dense=axis(0), where={"doc_id": "doc-b"}))
    assert {h.id for h in dense} == {id_of("door code"), id_of("sourdough bread")}

    keyword = filled.search(ChunkQuery(limit=10, sparse=query_terms("door code"), where={"doc_id": "doc-a"}))
    assert keyword == []


def test_the_canary_is_hidden_unless_the_query_names_a_source_kind(filled: Store) -> None:
    for query in (
        ChunkQuery(limit=10, dense=CANARY.vector),
        ChunkQuery(limit=10, sparse=query_terms("canary probe")),
        ChunkQuery(limit=10, dense=CANARY.vector, sparse=query_terms("canary probe sourdough")),
    ):
        assert CANARY.id not in {h.id for h in filled.search(query)}

    named = filled.search(ChunkQuery(limit=10, dense=CANARY.vector, where={"source_kind": "canary"}))
    assert [h.id for h in named] == [CANARY.id]
    files = filled.search(ChunkQuery(limit=10, sparse=query_terms("canary"), where={"source_kind": "file"}))
    assert files == []


def test_count_and_sample_vectors_leave_out_nothing_but_the_canary(filled: Store) -> None:
    assert filled.count_chunks() == len(POINTS)  # the canary is a chunk like any other

    every = filled.sample_vectors(100)
    assert every.shape == (len(POINTS) - 1, DIMENSION)
    assert not any(np.allclose(row, CANARY.vector, atol=1e-5) for row in every)

    assert filled.sample_vectors(2).shape == (2, DIMENSION)


def test_search_another_collection(filled: Store) -> None:
    filled.create_chunk_collection(OTHER, DIMENSION)
    filled.upsert_chunks([POINTS[4]], OTHER)

    hits = filled.search(ChunkQuery(limit=5, dense=axis(0)), OTHER)
    assert [h.id for h in hits] == [POINTS[4].id]
    assert filled.chunk_ids_of("doc-c", OTHER) == {POINTS[4].id}
    assert filled.existing_chunk_ids([POINTS[0].id], OTHER) == set()


# ---- document records ------------------------------------------------------------------------------


def test_records_round_trip_and_select_by_status_and_root(store: Store) -> None:
    written = [
        record("d1", DocStatus.INDEXED, "notes", version=3, chunk_ids=["x", "y"], content_hash="h1"),
        record("d2", DocStatus.FAILED, "notes", reason="cannot parse"),
        record("d3", DocStatus.INDEXED, "wiki", title="Wiki page", indexed_at=12.5),
        record("d4", DocStatus.DELETED, None),
    ]
    for one in written:
        store.put_record(one)

    assert store.get_record("d1") == written[0]
    assert store.get_record("nobody") is None
    assert store.get_records(["d3", "nobody", "d2", "d3"]) == {"d3": written[2], "d2": written[1]}
    assert store.get_records([]) == {}

    def ids(**where: object) -> list[str]:
        return sorted(r.doc_id for r in store.records(**where))  # type: ignore[arg-type]

    assert ids() == ["d1", "d2", "d3", "d4"]
    assert ids(status=DocStatus.INDEXED) == ["d1", "d3"]
    assert ids(root="notes") == ["d1", "d2"]
    assert ids(status=DocStatus.INDEXED, root="notes") == ["d1"]
    assert ids(status=DocStatus.PENDING) == []
    assert store.count_records() == {
        DocStatus.INDEXED: 2,
        DocStatus.PENDING: 0,
        DocStatus.FAILED: 1,
        DocStatus.SKIPPED: 0,
        DocStatus.DELETED: 1,
    }

    replaced = record("d2", DocStatus.INDEXED, "notes", version=4)
    store.put_record(replaced)
    assert store.get_record("d2") == replaced
    assert store.count_records()[DocStatus.FAILED] == 0
    assert ids(status=DocStatus.INDEXED) == ["d1", "d2", "d3"]


# ---- the fake answers as the engine does -----------------------------------------------------------


def test_every_store_scores_every_mode_alike(tmp_path: Path) -> None:
    """Not only the same order: the same scores, so a unit test on `MemoryStore` that depends on a score
    (a threshold, a fusion weight) holds against Qdrant too.
    The dense query is deliberately not unit-length."""
    stores: list[Store] = [
        EdgeStore(tmp_path / "index"),
        ServerStore(QdrantClient(path=str(tmp_path / "qdrant")), local=True),
        MemoryStore(),
    ]
    dense = np.array([1.0, 0.1, 0.2, 0.5, 0.3, 0.4, 0.0, 0.0], dtype=np.float32)  # no two chunks tie
    queries = [
        ChunkQuery(limit=4, dense=dense),
        ChunkQuery(limit=4, sparse=query_terms("sourdough starter door code")),
        ChunkQuery(limit=4, sparse=query_terms("canary sourdough"), where={"source_kind": "canary"}),
        ChunkQuery(limit=4, dense=dense, sparse=query_terms("sourdough door"), weights=(1, 2)),
    ]
    try:
        answers = []
        for one in stores:
            one.ensure_collections(DIMENSION, MODEL)
            one.upsert_chunks(POINTS)
            answers.append([[(h.id, h.score) for h in one.search(q)] for q in queries])
    finally:
        for one in stores:
            one.close()

    # The same order, and scores within float16's precision (the embedded store keeps dense vectors so).
    for answer in answers[1:]:
        assert [[point for point, _ in hits] for hits in answer] == [
            [p for p, _ in hits] for hits in answers[0]
        ]
        for mine, theirs in zip(answer, answers[0], strict=True):
            assert [score for _, score in mine] == pytest.approx([score for _, score in theirs], abs=2e-3)
    assert all(answers[0])
