"""The distributed store: a Qdrant server through qdrant-client, with the embedded store's collections, named
vectors and queries.

Chunk collections are reached through the alias `freshrag_chunks` (swapped in one atomic call for blue/green);
document records are vector-less points of `freshrag_documents`, one per document, so that every process of a
distributed deployment sees the same records. qdrant-client's local mode speaks the same API and stands in
for a server in tests (it is not thread-safe, so its calls are serialised).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import numpy as np
from qdrant_client import QdrantClient, models

from freshrag.documents import DocStatus, DocumentRecord
from freshrag.store.fusion import hybrid_search
from freshrag.store.interfaces import (
    CHUNKS_ALIAS,
    DENSE,
    SPARSE,
    ChunkPoint,
    ChunkQuery,
    Hit,
    StoreCorruptError,
    chunk_collection,
    record_point_id,
)

DOCUMENTS = "freshrag_documents"
_SCROLL_PAGE = 1024
_WRITE_BATCH = 256
_INDEXED_FIELDS = ("doc_id", "source_kind", "root", "uri", "title")


class ServerStore:
    """Chunks and document records behind one small interface; every method is safe to call from threads."""

    def __init__(self, client: QdrantClient, *, local: bool) -> None:
        self._client = client
        self._local = local
        # qdrant-client's local mode is not thread-safe; a server is.
        self._lock: AbstractContextManager[Any] = threading.RLock() if local else nullcontext()
        self._chunks_alias = CHUNKS_ALIAS
        self._documents = DOCUMENTS

    def ensure_collections(self, dimension: int, model_version: str) -> None:
        """Create the collections and the alias if missing; idempotent."""
        with self._lock:
            live = self._alias_target()
            if live is None:
                physical = chunk_collection(model_version)
                self.create_chunk_collection(physical, dimension)
                self.swap_alias(physical)
            else:
                self._check_layout(live)
            if not self._client.collection_exists(self._documents):
                self._client.create_collection(self._documents, vectors_config={})
                self._index_fields(self._documents, ("status", "root"))

    def _check_layout(self, collection: str) -> None:
        """Refuse a collection written by freshrag before hybrid search (one unnamed vector, no BM25)."""
        params = self._client.get_collection(collection).config.params
        named = params.vectors if isinstance(params.vectors, dict) else {}
        if DENSE not in named or SPARSE not in (params.sparse_vectors or {}):
            raise StoreCorruptError(
                f"Qdrant collection {collection} lacks the named vectors {DENSE!r} and {SPARSE!r} (written "
                "by an earlier freshrag): point FRESHRAG_QDRANT_URL at a fresh Qdrant, or delete the "
                "freshrag_* collections there, and run `freshrag ingest` on the sources again"
            )

    # ---- chunk collections and the alias (blue/green) -------------------------------------------------

    def live_collection(self) -> str:
        """The physical collection the alias points at: the one searches read."""
        with self._lock:
            target = self._alias_target()
        if target is None:
            raise RuntimeError(f"the alias {self._chunks_alias} points at no collection")
        return target

    def _alias_target(self) -> str | None:
        for alias in self._client.get_aliases().aliases:
            if alias.alias_name == self._chunks_alias:
                return str(alias.collection_name)
        return None

    def create_chunk_collection(self, name: str, dimension: int) -> None:
        """Create the chunk collection `name` unless it exists."""
        with self._lock:
            if not self._client.collection_exists(name):
                self._client.create_collection(
                    name,
                    vectors_config={
                        DENSE: models.VectorParams(size=dimension, distance=models.Distance.COSINE)
                    },
                    sparse_vectors_config={SPARSE: models.SparseVectorParams(modifier=models.Modifier.IDF)},
                )
                self._index_fields(name, _INDEXED_FIELDS)

    def chunk_collections(self) -> list[str]:
        """Every physical chunk collection, whichever model it holds."""
        with self._lock:
            names = [c.name for c in self._client.get_collections().collections]
        return sorted(name for name in names if name.startswith(f"{self._chunks_alias}__"))

    def swap_alias(self, collection: str) -> None:
        """Point the alias at `collection` in one atomic operation: a search sees the old or the new."""
        with self._lock:
            operations: list[Any] = []
            if self._alias_target() is not None:
                operations.append(
                    models.DeleteAliasOperation(
                        delete_alias=models.DeleteAlias(alias_name=self._chunks_alias)
                    )
                )
            operations.append(
                models.CreateAliasOperation(
                    create_alias=models.CreateAlias(collection_name=collection, alias_name=self._chunks_alias)
                )
            )
            self._client.update_collection_aliases(change_aliases_operations=operations)

    def drop_collection(self, name: str) -> None:
        """Delete the chunk collection `name` (never the live one)."""
        if name == self.live_collection():
            raise ValueError(f"{name} is live; swap the alias away first")
        with self._lock:
            self._client.delete_collection(name)

    def _index_fields(self, collection: str, fields: tuple[str, ...]) -> None:
        if self._local:
            return  # local mode scans payloads; payload indexes exist only on a server
        for name in fields:
            self._client.create_payload_index(collection, name, models.PayloadSchemaType.KEYWORD)

    def optimize(self) -> bool:
        """A server builds its indexes by itself, in the background."""
        return False

    def ping(self) -> None:
        """Raise if the store cannot be reached."""
        with self._lock:
            self._client.get_aliases()

    # ---- chunks -------------------------------------------------------------------------------------

    def existing_chunk_ids(self, ids: list[str], collection: str | None = None) -> set[str]:
        """Which of `ids` are already stored (in `collection`, the live one by default)."""
        found: set[str] = set()
        for start in range(0, len(ids), _SCROLL_PAGE):
            with self._lock:
                records = self._client.retrieve(
                    collection or self._chunks_alias,
                    ids[start : start + _SCROLL_PAGE],
                    with_payload=False,
                    with_vectors=False,
                )
            found.update(str(record.id) for record in records)
        return found

    def upsert_chunks(self, points: list[ChunkPoint], collection: str | None = None) -> None:
        for start in range(0, len(points), _WRITE_BATCH):
            batch = [
                models.PointStruct(
                    id=p.id,
                    vector={
                        DENSE: p.vector.tolist(),
                        SPARSE: models.SparseVector(indices=p.sparse.indices, values=p.sparse.values),
                    },
                    payload=p.payload,
                )
                for p in points[start : start + _WRITE_BATCH]
            ]
            with self._lock:
                self._client.upsert(collection or self._chunks_alias, points=batch, wait=True)

    def chunk_ids_of(self, doc_id: str, collection: str | None = None) -> set[str]:
        """Every chunk id stored for `doc_id`, whatever the record says (so orphans are found too)."""
        return {
            str(point.id)
            for point in self._scroll(collection or self._chunks_alias, _match("doc_id", doc_id))
        }

    def chunk_ids(self, collection: str) -> dict[str, str]:
        """Every chunk of `collection`: point id to document id (ids only, no text or vectors)."""
        return {
            str(point.id): str((point.payload or {}).get("doc_id", ""))
            for point in self._scroll(collection, None, with_payload=["doc_id"])
        }

    def chunk_payloads(self, ids: list[str], collection: str) -> dict[str, dict[str, Any]]:
        """The payloads (text, heading, title...) of the chunks `ids` of `collection` that exist."""
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(ids), _SCROLL_PAGE):
            with self._lock:
                records = self._client.retrieve(
                    collection, ids[start : start + _SCROLL_PAGE], with_payload=True
                )
            found.update((str(record.id), dict(record.payload or {})) for record in records)
        return found

    def chunk_vectors(self, ids: list[str], collection: str) -> dict[str, tuple[dict[str, Any], np.ndarray]]:
        """The payload and vector of each of the chunks `ids` of `collection` that exist."""
        found: dict[str, tuple[dict[str, Any], np.ndarray]] = {}
        for start in range(0, len(ids), _SCROLL_PAGE):
            with self._lock:
                records = self._client.retrieve(
                    collection, ids[start : start + _SCROLL_PAGE], with_payload=True, with_vectors=[DENSE]
                )
            for record in records:
                dense = _dense_of(record.vector)
                if dense is not None:
                    found[str(record.id)] = (dict(record.payload or {}), dense)
        return found

    def chunk_similarities(self, ids: list[str], vector: np.ndarray, collection: str) -> dict[str, float]:
        """Scored by the server: no vector travels back."""
        dense = vector.tolist()
        found: dict[str, float] = {}
        for start in range(0, len(ids), _SCROLL_PAGE):
            found |= self._scored_among(collection, dense, ids[start : start + _SCROLL_PAGE])
        return found

    def _scored_among(self, collection: str, dense: list[float], ids: list[str]) -> dict[str, float]:
        """The cosine of `dense` and each of the chunks `ids` that `collection` holds."""
        only = models.Filter(must=[models.HasIdCondition(has_id=list(ids))])
        with self._lock:
            scored = self._client.query_points(
                collection, dense, using=DENSE, query_filter=only, limit=len(ids)
            )
        return {str(p.id): float(p.score) for p in scored.points}

    def delete_chunks(self, ids: list[str], collection: str | None = None) -> None:
        for start in range(0, len(ids), _WRITE_BATCH):
            selector = models.PointIdsList(points=list(ids[start : start + _WRITE_BATCH]))
            with self._lock:
                self._client.delete(collection or self._chunks_alias, points_selector=selector, wait=True)

    def search(self, query: ChunkQuery, collection: str | None = None) -> list[Hit]:
        target = collection or self._chunks_alias
        query_filter = _filter(query)
        sparse = None
        if query.sparse is not None and query.sparse.indices:  # a query of stop words only has no terms
            sparse = models.SparseVector(indices=query.sparse.indices, values=query.sparse.values)
        dense = query.dense.tolist() if query.dense is not None else None
        if dense is not None and sparse is not None:
            return self._hybrid(target, query, dense, sparse, query_filter)
        if dense is None and sparse is None:
            return []
        with self._lock:
            response = self._client.query_points(
                target,
                query=dense if dense is not None else sparse,
                using=DENSE if dense is not None else SPARSE,
                query_filter=query_filter,
                limit=query.limit,
                with_payload=True,
            )
        return [
            Hit(
                id=str(p.id),
                score=float(p.score),
                payload=dict(p.payload or {}),
                similarity=float(p.score) if dense is not None else None,
            )
            for p in response.points
        ]

    def _hybrid(
        self,
        target: str,
        query: ChunkQuery,
        dense: list[float],
        sparse: models.SparseVector,
        query_filter: models.Filter | None,
    ) -> list[Hit]:
        """Both lists in one batch, then `freshrag.store.fusion.hybrid_search`."""
        requests = [
            models.QueryRequest(query=dense, using=DENSE, filter=query_filter, limit=query.prefetch),
            models.QueryRequest(query=sparse, using=SPARSE, filter=query_filter, limit=query.prefetch),
        ]

        def read_lists() -> tuple[dict[str, float], dict[str, float]]:
            with self._lock:
                by_meaning, by_keyword = self._client.query_batch_points(target, requests=requests)
            return (
                {str(p.id): float(p.score) for p in by_meaning.points},
                {str(p.id): float(p.score) for p in by_keyword.points},
            )

        def read_cosines(ids: list[str]) -> dict[str, float]:
            return self._scored_among(target, dense, ids)

        def read_payloads(ids: list[str]) -> dict[str, dict[str, Any]]:
            with self._lock:
                records = self._client.retrieve(target, ids, with_payload=True)
            return {str(r.id): dict(r.payload or {}) for r in records}

        return hybrid_search(read_lists, read_cosines, read_payloads, query.weights, query.limit)

    def count_chunks(self) -> int:
        with self._lock:
            return int(self._client.count(self._chunks_alias, exact=True).count)

    def sample_vectors(self, size: int) -> np.ndarray:
        """Up to `size` chunk vectors drawn at random (the canary excluded), one row each."""
        with self._lock:
            response = self._client.query_points(
                self._chunks_alias,
                query=models.SampleQuery(sample=models.Sample.RANDOM),
                limit=size + 1,  # the canary, if drawn, is dropped
                with_vectors=[DENSE],
                with_payload=["source_kind"],
            )
        rows = [
            dense
            for point in response.points
            if (dense := _dense_of(point.vector)) is not None
            and (point.payload or {}).get("source_kind") != "canary"
        ]
        return np.asarray(rows[:size], dtype=np.float32).reshape(min(len(rows), size), -1)

    def all_chunk_payloads(self, collection: str | None = None) -> Iterator[dict[str, Any]]:
        """Every stored chunk's payload (for convergence checks and training pairs)."""
        for point in self._scroll(collection or self._chunks_alias, None, with_payload=True):
            yield dict(point.payload or {})

    # ---- document records ---------------------------------------------------------------------------

    def get_record(self, doc_id: str) -> DocumentRecord | None:
        with self._lock:
            found = self._client.retrieve(self._documents, [record_point_id(doc_id)], with_payload=True)
        return DocumentRecord.from_payload(dict(found[0].payload or {})) if found else None

    def get_records(self, doc_ids: list[str]) -> dict[str, DocumentRecord]:
        ids = [record_point_id(d) for d in dict.fromkeys(doc_ids)]
        with self._lock:
            found = self._client.retrieve(self._documents, ids, with_payload=True)
        records = (DocumentRecord.from_payload(dict(p.payload or {})) for p in found)
        return {record.doc_id: record for record in records}

    def put_record(self, record: DocumentRecord) -> None:
        point = models.PointStruct(id=record_point_id(record.doc_id), vector={}, payload=record.to_payload())
        with self._lock:
            self._client.upsert(self._documents, points=[point], wait=True)

    def records(
        self, *, status: DocStatus | None = None, root: str | None = None
    ) -> Iterator[DocumentRecord]:
        conditions = []
        if status is not None:
            conditions.append(
                models.FieldCondition(key="status", match=models.MatchValue(value=status.value))
            )
        if root is not None:
            conditions.append(models.FieldCondition(key="root", match=models.MatchValue(value=root)))
        query_filter = models.Filter(must=conditions) if conditions else None  # type: ignore[arg-type]
        for point in self._scroll(self._documents, query_filter, with_payload=True):
            yield DocumentRecord.from_payload(dict(point.payload or {}))

    def count_records(self) -> dict[DocStatus, int]:
        counts = {}
        for status in DocStatus:
            with self._lock:
                counts[status] = int(
                    self._client.count(self._documents, _match("status", status.value)).count
                )
        return counts

    def close(self) -> None:
        with self._lock:
            self._client.close()

    def _scroll(
        self, collection: str, query_filter: models.Filter | None, *, with_payload: bool | list[str] = False
    ) -> Iterator[models.Record]:
        offset: Any = None
        while True:
            with self._lock:
                page, offset = self._client.scroll(
                    collection,
                    scroll_filter=query_filter,
                    limit=_SCROLL_PAGE,
                    offset=offset,
                    with_payload=with_payload,
                    with_vectors=False,
                )
            yield from page
            if offset is None:
                return


def _match(key: str, value: str) -> models.Filter:
    return models.Filter(must=[models.FieldCondition(key=key, match=models.MatchValue(value=value))])


def _filter(query: ChunkQuery) -> models.Filter | None:
    must: list[Any] = [
        models.FieldCondition(key=k, match=models.MatchValue(value=v)) for k, v in query.where.items()
    ]
    must_not: list[Any] = (
        [models.FieldCondition(key="source_kind", match=models.MatchValue(value="canary"))]
        if query.hides_canary
        else []
    )
    if not must and not must_not:
        return None
    return models.Filter(must=must or None, must_not=must_not or None)


def _dense_of(vector: Any) -> np.ndarray | None:
    if isinstance(vector, dict) and isinstance(vector.get(DENSE), list):
        return np.asarray(vector[DENSE], np.float32)
    return None
