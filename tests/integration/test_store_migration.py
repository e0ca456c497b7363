"""Moving a data dir written before Qdrant Edge (qdrant-client's local mode under <data dir>/qdrant) into the
embedded store: vectors copied as they were, records equal, the old alias's collection live, the old folder
untouched, done once, and resumed after an interruption. The legacy folder is built here the way the old
`freshrag.store` wrote it: one unnamed cosine vector per chunk collection, vector-less record points,
an alias."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from qdrant_client import QdrantClient, models

from freshrag.documents import DocStatus, DocumentRecord, SourceKind
from freshrag.store import ChunkPoint, ChunkQuery, StoreLockedError, chunk_point_id
from freshrag.store import legacy as legacy_module
from freshrag.store.edge import EdgeStore
from freshrag.store.interfaces import CHUNKS_ALIAS, record_point_id
from freshrag.store.keywords import chunk_terms, query_terms
from freshrag.store.legacy import migrate_legacy

DIMENSION = 8
LIVE = "freshrag_chunks__all_minilm_l6_v2"
OLD = "freshrag_chunks__ft_20240101"  # a model switched away from, still on disk
TEXTS = [
    "The orange cat sleeps on the warm windowsill.",
    "Quarterly revenue grew in the northern region.",
    "The door code for the server room is 4711.",
    "Bake sourdough bread with a lively starter.",
    "Migrating birds cross the strait in autumn.",
]


@dataclass
class Legacy:
    folder: Path
    vectors: dict[str, dict[str, np.ndarray]]  # collection -> point id -> vector as stored
    payloads: dict[str, dict[str, dict[str, Any]]]
    records: dict[str, DocumentRecord]


def build_legacy(folder: Path) -> Legacy:
    rng = np.random.default_rng(7)
    client = QdrantClient(path=str(folder))
    vectors: dict[str, dict[str, np.ndarray]] = {}
    payloads: dict[str, dict[str, dict[str, Any]]] = {}
    for name, count in ((LIVE, len(TEXTS)), (OLD, 3)):
        client.create_collection(
            name, vectors_config=models.VectorParams(size=DIMENSION, distance=models.Distance.COSINE)
        )
        points = []
        for index, text in enumerate(TEXTS[:count]):
            doc_id = f"file:notes-1/{index // 2}.md"
            vector = rng.normal(size=DIMENSION).astype(np.float32)
            vector /= np.linalg.norm(vector)
            payload = {
                "doc_id": doc_id,
                "text": text,
                "title": f"Note {index // 2}",
                "heading": ["Notes", f"Part {index}"],
                "source_kind": "file",
            }
            points.append(
                models.PointStruct(
                    id=chunk_point_id(doc_id, str(index)), vector=vector.tolist(), payload=payload
                )
            )
        client.upsert(name, points=points, wait=True)
        stored = client.retrieve(name, [p.id for p in points], with_payload=True, with_vectors=True)
        vectors[name] = {str(r.id): np.asarray(r.vector, np.float32) for r in stored}
        payloads[name] = {str(r.id): dict(r.payload or {}) for r in stored}
    client.update_collection_aliases(
        change_aliases_operations=[
            models.CreateAliasOperation(
                create_alias=models.CreateAlias(collection_name=LIVE, alias_name=CHUNKS_ALIAS)
            )
        ]
    )
    client.create_collection("freshrag_documents", vectors_config={})
    records = {
        doc_id: DocumentRecord(
            doc_id=doc_id,
            status=DocStatus.INDEXED if n < 2 else DocStatus.FAILED,
            source_kind=SourceKind.FILE,
            uri=f"/notes/{n}.md",
            root="notes-1",
            title=f"Note {n}",
            version=n + 1,
            chunk_ids=[p for p, payload in payloads[LIVE].items() if payload["doc_id"] == doc_id],
            reason=None if n < 2 else "cannot parse",
        )
        for n, doc_id in enumerate(f"file:notes-1/{n}.md" for n in range(3))
    }
    client.upsert(
        "freshrag_documents",
        points=[
            models.PointStruct(id=record_point_id(doc_id), vector={}, payload=record.to_payload())
            for doc_id, record in records.items()
        ],
        wait=True,
    )
    client.close()
    return Legacy(folder, vectors, payloads, records)


def snapshot(folder: Path) -> dict[str, str]:
    """Every file and folder under `folder`: relative path to a hash of its bytes ("dir" for a folder)."""
    return {
        str(path.relative_to(folder)): "dir"
        if path.is_dir()
        else hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
    }


@pytest.fixture
def legacy(tmp_path: Path) -> Legacy:
    return build_legacy(tmp_path / "data" / "qdrant")


@pytest.fixture
def index(tmp_path: Path) -> Path:
    return tmp_path / "data" / "index"


@pytest.fixture
def store(index: Path) -> Iterator[EdgeStore]:
    made = EdgeStore(index)
    yield made
    made.close()


def assert_moved(store: EdgeStore, legacy: Legacy) -> None:
    """Everything of `legacy` is in `store`, exactly once, vectors as they were stored."""
    assert store.chunk_collections() == sorted(legacy.vectors)
    assert store.live_collection() == LIVE
    for name, vectors in legacy.vectors.items():
        assert store.chunk_ids(name) == {i: p["doc_id"] for i, p in legacy.payloads[name].items()}
        moved = store.chunk_vectors(list(vectors), name)
        for point_id, vector in vectors.items():
            payload, copied = moved[point_id]
            assert payload == legacy.payloads[name][point_id]
            np.testing.assert_allclose(
                copied, vector, rtol=0, atol=1e-3
            )  # as stored: the embedded store keeps float16
    assert store.count_chunks() == len(legacy.vectors[LIVE])
    assert store.get_records(list(legacy.records)) == legacy.records
    assert sorted(r.doc_id for r in store.records()) == sorted(legacy.records)


def test_the_move_copies_vectors_records_and_the_live_collection(
    legacy: Legacy, store: EdgeStore, capfd: pytest.CaptureFixture[str]
) -> None:
    before = snapshot(legacy.folder)

    assert migrate_legacy(legacy.folder, store) is True

    assert_moved(store, legacy)
    hits = store.search(ChunkQuery(limit=3, sparse=query_terms("sourdough")))
    assert [h.payload["text"] for h in hits] == [TEXTS[3]]
    assert snapshot(legacy.folder) == before
    assert capfd.readouterr().out == ""  # progress goes to stderr: `freshrag search --json` stays JSON

    assert migrate_legacy(legacy.folder, store) is False
    assert_moved(store, legacy)
    assert snapshot(legacy.folder) == before


def test_a_fresh_data_dir_has_nothing_to_move(tmp_path: Path, store: EdgeStore) -> None:
    assert migrate_legacy(tmp_path / "data" / "qdrant", store) is False
    assert store.chunk_collections() == []


def test_an_interrupted_move_resumes_without_duplicates(
    legacy: Legacy, index: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(legacy_module, "_PAGE", 2)  # several pages per collection
    calls = {"n": 0}
    real_upsert = EdgeStore.upsert_chunks

    def crash_in_the_second_collection(
        self: EdgeStore, points: list[ChunkPoint], collection: str | None = None
    ) -> None:
        if collection == OLD and calls["n"] == 0:
            calls["n"] += 1
            real_upsert(self, points[:1], collection)  # part of a page written, then the process dies
            raise KeyboardInterrupt
        real_upsert(self, points, collection)

    monkeypatch.setattr(EdgeStore, "upsert_chunks", crash_in_the_second_collection)
    first = EdgeStore(index)
    with pytest.raises(KeyboardInterrupt):
        migrate_legacy(legacy.folder, first)
    first.close()
    state = json.loads((index / "migration.json").read_text(encoding="utf-8"))
    assert state == {"collections": [LIVE]}

    resumed = EdgeStore(index)
    try:
        assert migrate_legacy(legacy.folder, resumed) is True
        assert_moved(resumed, legacy)
        assert migrate_legacy(legacy.folder, resumed) is False
    finally:
        resumed.close()


def test_a_move_cut_short_before_any_collection_was_noted_starts_over(legacy: Legacy, index: Path) -> None:
    """The state file lists no collection done although chunks were already copied."""
    store = EdgeStore(index)
    try:
        store.create_chunk_collection(LIVE, DIMENSION)
        some = dict(list(legacy.vectors[LIVE].items())[:2])
        store.upsert_chunks(
            [
                ChunkPoint(i, v, payload, chunk_terms(payload["title"], payload["heading"], payload["text"]))
                for i, v in some.items()
                for payload in [legacy.payloads[LIVE][i]]
            ],
            LIVE,
        )
        (index / "migration.json").write_text(json.dumps({"collections": []}), encoding="utf-8")

        assert migrate_legacy(legacy.folder, store) is True
        assert_moved(store, legacy)
    finally:
        store.close()


def test_a_legacy_folder_in_use_is_reported_as_locked(legacy: Legacy, store: EdgeStore) -> None:
    holder = QdrantClient(path=str(legacy.folder))
    try:
        with pytest.raises(StoreLockedError, match=str(legacy.folder)):
            migrate_legacy(legacy.folder, store)
    finally:
        holder.close()
