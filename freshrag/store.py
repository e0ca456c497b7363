"""The index: chunk vectors and per-document records in Qdrant (local mode embedded, a server distributed).

Point ids are uuid5 of (document id, chunk key), so writing the same chunk twice is a no-op and a chunk whose
text did not change is found, not re-embedded. Chunks live in a collection reached through the alias
`freshrag_chunks` (so a later re-embed can swap it); document records live in `freshrag_documents`, one
vector-less point per document.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

import numpy as np
from qdrant_client import QdrantClient, models

from freshrag.documents import DocStatus, DocumentRecord
from freshrag.settings import Settings

CHUNKS_ALIAS = "freshrag_chunks"
DOCUMENTS = "freshrag_documents"
_NAMESPACE = uuid.UUID("9b1f3c52-6a0e-4a53-8b7e-3f6f1e1d2c10")
_SCROLL_PAGE = 1024
_WRITE_BATCH = 256


class StoreLockedError(RuntimeError):
    """Another process holds the embedded store's folder."""


def chunk_point_id(doc_id: str, chunk_key: str) -> str:
    """The deterministic point id of one chunk of one document."""
    return str(uuid.uuid5(_NAMESPACE, f"{doc_id}\x00{chunk_key}"))


def _record_point_id(doc_id: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"record\x00{doc_id}"))


@dataclass(frozen=True)
class ChunkPoint:
    id: str
    vector: np.ndarray
    payload: dict[str, Any]


@dataclass(frozen=True)
class Hit:
    id: str
    score: float
    payload: dict[str, Any]


class QdrantStore:
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
            if self._alias_target() is None:
                physical = chunk_collection(model_version)
                self.create_chunk_collection(physical, dimension)
                self.swap_alias(physical)
            if not self._client.collection_exists(self._documents):
                self._client.create_collection(self._documents, vectors_config={})
                self._index_fields(self._documents, ("status", "root"))

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
                    name, vectors_config=models.VectorParams(size=dimension, distance=models.Distance.COSINE)
                )
                self._index_fields(name, ("doc_id",))

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
                models.PointStruct(id=p.id, vector=p.vector.tolist(), payload=p.payload)
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
                    collection, ids[start : start + _SCROLL_PAGE], with_payload=True, with_vectors=True
                )
            for record in records:
                if isinstance(record.vector, list):
                    found[str(record.id)] = (
                        dict(record.payload or {}),
                        np.asarray(record.vector, np.float32),
                    )
        return found

    def delete_chunks(self, ids: list[str], collection: str | None = None) -> None:
        for start in range(0, len(ids), _WRITE_BATCH):
            selector = models.PointIdsList(points=list(ids[start : start + _WRITE_BATCH]))
            with self._lock:
                self._client.delete(collection or self._chunks_alias, points_selector=selector, wait=True)

    def search(
        self,
        vector: np.ndarray,
        limit: int,
        where: dict[str, str] | None = None,
        collection: str | None = None,
    ) -> list[Hit]:
        """The `limit` nearest chunks matching `where`; freshrag's canary only when `where` asks for it."""
        conditions = [
            models.FieldCondition(key=k, match=models.MatchValue(value=v)) for k, v in (where or {}).items()
        ]
        query_filter = models.Filter(must=conditions) if conditions else None  # type: ignore[arg-type]
        # The canary is one chunk: fetching one more and dropping it is cheaper than a filter (local mode
        # evaluates filters point by point).
        hide_canary = "source_kind" not in (where or {})
        with self._lock:
            response = self._client.query_points(
                collection or self._chunks_alias,
                query=vector.tolist(),
                limit=limit + 1 if hide_canary else limit,
                query_filter=query_filter,
                with_payload=True,
            )
        hits = [
            Hit(id=str(p.id), score=float(p.score), payload=dict(p.payload or {})) for p in response.points
        ]
        if hide_canary:
            hits = [hit for hit in hits if hit.payload.get("source_kind") != "canary"]
        return hits[:limit]

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
                with_vectors=True,
                with_payload=["source_kind"],
            )
        rows = [
            point.vector
            for point in response.points
            if isinstance(point.vector, list) and (point.payload or {}).get("source_kind") != "canary"
        ]
        return np.asarray(rows[:size], dtype=np.float32)

    def all_chunk_payloads(self, collection: str | None = None) -> Iterator[dict[str, Any]]:
        """Every stored chunk's payload (for convergence checks and training pairs)."""
        for point in self._scroll(collection or self._chunks_alias, None, with_payload=True):
            yield dict(point.payload or {})

    # ---- document records ---------------------------------------------------------------------------

    def get_record(self, doc_id: str) -> DocumentRecord | None:
        with self._lock:
            found = self._client.retrieve(self._documents, [_record_point_id(doc_id)], with_payload=True)
        return DocumentRecord.from_payload(dict(found[0].payload or {})) if found else None

    def get_records(self, doc_ids: list[str]) -> dict[str, DocumentRecord]:
        ids = [_record_point_id(d) for d in dict.fromkeys(doc_ids)]
        with self._lock:
            found = self._client.retrieve(self._documents, ids, with_payload=True)
        records = (DocumentRecord.from_payload(dict(p.payload or {})) for p in found)
        return {record.doc_id: record for record in records}

    def put_record(self, record: DocumentRecord) -> None:
        point = models.PointStruct(id=_record_point_id(record.doc_id), vector={}, payload=record.to_payload())
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


def chunk_collection(model_version: str) -> str:
    """The physical collection holding the chunks embedded by `model_version`."""
    return f"{CHUNKS_ALIAS}__{_slug(model_version)}"


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in text.lower())


def open_store(settings: Settings) -> QdrantStore:
    """The store the settings name: a Qdrant server at `qdrant_url`, or local mode under the data dir.
    Raises `StoreLockedError` when another process holds the local folder."""
    if settings.qdrant_url:
        client = QdrantClient(url=settings.qdrant_url, api_key=settings.qdrant_api_key, timeout=30)
        return QdrantStore(client, local=False)
    settings.qdrant_path.mkdir(parents=True, exist_ok=True)
    try:
        client = QdrantClient(path=str(settings.qdrant_path))
    except RuntimeError as exc:
        if "already accessed by another instance" in str(exc):
            raise StoreLockedError(
                f"the embedded store at {settings.qdrant_path} is in use by another freshrag process "
                f"(a running `freshrag up`?); stop it, or talk to it through its API at {settings.url}"
            ) from None
        raise
    return QdrantStore(client, local=True)
