"""The in-memory store: the whole `Store` contract over plain dicts, for fast unit tests of the logic around
the index (pipeline, model switch, reconcile). No I/O, nothing survives `close`.

It answers as the engine does, so that a test passing here means the same against Qdrant:

- dense vectors are stored unit-normalised (Qdrant's cosine distance does that on write) and a dense search
  scores by cosine;
- a keyword search scores `sum(query weight * idf * stored weight)` over shared terms, with Qdrant's IDF
  `ln(1 + (N - n + 0.5) / (n + 0.5))` over the collection's points, and returns only chunks sharing a term;
- hybrid fuses both lists through `freshrag.store.fusion.fuse`, as the other stores do;
- payloads and records go through JSON on the way in, so what is read back is a copy, as from a server.
"""

from __future__ import annotations

import json
import math
import random
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from freshrag.documents import DocStatus, DocumentRecord
from freshrag.store.fusion import fuse
from freshrag.store.interfaces import ChunkPoint, ChunkQuery, Hit, SparseVector, chunk_collection


@dataclass
class _Chunk:
    dense: np.ndarray
    sparse: dict[int, float]
    payload: dict[str, Any]


@dataclass
class _Collection:
    dimension: int
    chunks: dict[str, _Chunk] = field(default_factory=dict)


class MemoryStore:
    """Chunks, records and the live pointer in dicts behind one lock. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._collections: dict[str, _Collection] = {}
        self._live: str | None = None
        self._records: dict[str, str] = {}  # doc id -> the record's JSON

    # ---- collections and the live pointer ----------------------------------------------------------

    def ensure_collections(self, dimension: int, model_version: str) -> None:
        with self._lock:
            if self._live is None:
                name = chunk_collection(model_version)
                self.create_chunk_collection(name, dimension)
                self.swap_alias(name)

    def live_collection(self) -> str:
        live = self._live
        if live is None:
            raise RuntimeError("the memory store names no live collection")
        return live

    def create_chunk_collection(self, name: str, dimension: int) -> None:
        with self._lock:
            self._collections.setdefault(name, _Collection(dimension))

    def chunk_collections(self) -> list[str]:
        with self._lock:
            return sorted(self._collections)

    def swap_alias(self, collection: str) -> None:
        with self._lock:
            if collection not in self._collections:
                raise ValueError(f"no chunk collection {collection}")
            self._live = collection

    def drop_collection(self, name: str) -> None:
        with self._lock:
            if name == self._live:
                raise ValueError(f"{name} is live; swap the alias away first")
            self._collections.pop(name, None)

    def ping(self) -> None:
        """Always reachable."""

    def optimize(self) -> bool:
        """Nothing to build."""
        return False

    # ---- chunks ------------------------------------------------------------------------------------

    def existing_chunk_ids(self, ids: list[str], collection: str | None = None) -> set[str]:
        with self._lock:
            chunks = self._collection(collection).chunks
            return {point_id for point_id in ids if point_id in chunks}

    def upsert_chunks(self, points: list[ChunkPoint], collection: str | None = None) -> None:
        """Store `points`, replacing any with the same id; raises ValueError (storing none of them) when a
        dense vector's dimension is not the collection's."""
        with self._lock:
            target = self._collection(collection)
            for point in points:
                if point.vector.shape != (target.dimension,):
                    raise ValueError(
                        f"point {point.id}: dense vector of shape {point.vector.shape}, "
                        f"the collection holds {target.dimension}"
                    )
            for point in points:
                target.chunks[point.id] = _Chunk(
                    dense=_unit(point.vector),
                    sparse=dict(zip(point.sparse.indices, point.sparse.values, strict=True)),
                    payload=_copy(point.payload),
                )

    def delete_chunks(self, ids: list[str], collection: str | None = None) -> None:
        with self._lock:
            chunks = self._collection(collection).chunks
            for point_id in ids:
                chunks.pop(point_id, None)

    def chunk_ids_of(self, doc_id: str, collection: str | None = None) -> set[str]:
        with self._lock:
            chunks = self._collection(collection).chunks
            return {point_id for point_id, chunk in chunks.items() if chunk.payload.get("doc_id") == doc_id}

    def chunk_ids(self, collection: str) -> dict[str, str]:
        with self._lock:
            chunks = self._collection(collection).chunks
            return {point_id: str(chunk.payload.get("doc_id", "")) for point_id, chunk in chunks.items()}

    def chunk_payloads(self, ids: list[str], collection: str) -> dict[str, dict[str, Any]]:
        with self._lock:
            chunks = self._collection(collection).chunks
            return {i: _copy(chunks[i].payload) for i in ids if i in chunks}

    def chunk_vectors(self, ids: list[str], collection: str) -> dict[str, tuple[dict[str, Any], np.ndarray]]:
        with self._lock:
            chunks = self._collection(collection).chunks
            return {i: (_copy(chunks[i].payload), chunks[i].dense.copy()) for i in ids if i in chunks}

    def chunk_similarities(self, ids: list[str], vector: np.ndarray, collection: str) -> dict[str, float]:
        unit = _unit(vector)  # stored vectors are unit length already
        with self._lock:
            chunks = self._collection(collection).chunks
            return {i: float(np.dot(unit, chunks[i].dense)) for i in ids if i in chunks}

    def search(self, query: ChunkQuery, collection: str | None = None) -> list[Hit]:
        sparse = query.sparse if query.sparse is not None and query.sparse.indices else None
        hybrid = query.dense is not None and sparse is not None
        limit = query.prefetch if hybrid else query.limit
        with self._lock:
            chunks = self._collection(collection).chunks
            candidates = {i: c for i, c in chunks.items() if _matches(c.payload, query)}
            dense = _dense_hits(candidates, query.dense, limit) if query.dense is not None else None
            keyword = _keyword_hits(chunks, candidates, sparse, limit) if sparse is not None else None
        if dense is not None and keyword is not None:
            assert query.dense is not None
            return fuse(query.dense, dense, keyword, query.weights, query.limit)
        if dense is not None:
            return dense
        return keyword or []  # a query of stop words only has no terms: no keyword can match

    def count_chunks(self) -> int:
        with self._lock:
            return len(self._collection(None).chunks)

    def sample_vectors(self, size: int) -> np.ndarray:
        with self._lock:
            target = self._collection(None)
            rows = [c.dense for c in target.chunks.values() if c.payload.get("source_kind") != "canary"]
            dimension = target.dimension
        drawn = random.sample(rows, min(size, len(rows)))
        return np.asarray(drawn, dtype=np.float32).reshape(len(drawn), dimension)

    def all_chunk_payloads(self, collection: str | None = None) -> Iterator[dict[str, Any]]:
        with self._lock:
            payloads = [_copy(c.payload) for c in self._collection(collection).chunks.values()]
        yield from payloads

    # ---- document records --------------------------------------------------------------------------

    def get_record(self, doc_id: str) -> DocumentRecord | None:
        with self._lock:
            body = self._records.get(doc_id)
        return _decode(body) if body is not None else None

    def get_records(self, doc_ids: list[str]) -> dict[str, DocumentRecord]:
        with self._lock:
            bodies = {d: self._records[d] for d in doc_ids if d in self._records}
        return {doc_id: _decode(body) for doc_id, body in bodies.items()}

    def put_record(self, record: DocumentRecord) -> None:
        body = json.dumps(record.to_payload())
        with self._lock:
            self._records[record.doc_id] = body

    def records(
        self, *, status: DocStatus | None = None, root: str | None = None
    ) -> Iterator[DocumentRecord]:
        """Matching records in doc id order, read from a snapshot (a caller may write while it iterates)."""
        with self._lock:
            bodies = [self._records[doc_id] for doc_id in sorted(self._records)]
        for record in map(_decode, bodies):
            if (status is None or record.status == status) and (root is None or record.root == root):
                yield record

    def count_records(self) -> dict[DocStatus, int]:
        counts = dict.fromkeys(DocStatus, 0)
        for record in self.records():
            counts[record.status] += 1
        return counts

    def close(self) -> None:
        """Nothing to release."""

    # ---- helpers -----------------------------------------------------------------------------------

    def _collection(self, name: str | None) -> _Collection:
        chosen = name or self.live_collection()
        found = self._collections.get(chosen)
        if found is None:
            raise KeyError(f"no chunk collection {chosen}")
        return found


def _dense_hits(candidates: dict[str, _Chunk], query: np.ndarray, limit: int) -> list[Hit]:
    unit = _unit(query)
    scored = [(float(np.dot(unit, chunk.dense)), point_id) for point_id, chunk in candidates.items()]
    return [replace(hit, similarity=hit.score) for hit in _best(scored, candidates, limit)]


def _keyword_hits(
    chunks: dict[str, _Chunk], candidates: dict[str, _Chunk], query: SparseVector, limit: int
) -> list[Hit]:
    """BM25 as Qdrant's IDF modifier computes it: IDF over every point of the collection, filter or not."""
    terms = dict(zip(query.indices, query.values, strict=True))
    holders = dict.fromkeys(terms, 0)
    for chunk in chunks.values():
        for term in terms.keys() & chunk.sparse.keys():
            holders[term] += 1
    total = len(chunks)
    idf = {t: math.log(1.0 + (total - n + 0.5) / (n + 0.5)) for t, n in holders.items()}
    scored = [
        (sum(terms[t] * idf[t] * chunk.sparse[t] for t in shared), point_id)
        for point_id, chunk in candidates.items()
        if (shared := terms.keys() & chunk.sparse.keys())
    ]
    return _best(scored, candidates, limit)


def _best(scored: list[tuple[float, str]], candidates: dict[str, _Chunk], limit: int) -> list[Hit]:
    scored.sort(key=lambda pair: (-pair[0], pair[1]))
    return [
        Hit(
            id=point_id,
            score=score,
            payload=_copy(candidates[point_id].payload),
            dense=candidates[point_id].dense.copy(),
        )
        for score, point_id in scored[:limit]
    ]


def _matches(payload: dict[str, Any], query: ChunkQuery) -> bool:
    """Qdrant's exact match: the field equals the value, or is a list holding it; the canary is hidden unless
    the query names a source kind."""
    if query.hides_canary and payload.get("source_kind") == "canary":
        return False
    for key, wanted in query.where.items():
        value = payload.get(key)
        if not (value == wanted or (isinstance(value, list) and wanted in value)):
            return False
    return True


def _unit(vector: np.ndarray) -> np.ndarray:
    as_float = np.asarray(vector, dtype=np.float32)
    norm = float(np.linalg.norm(as_float))
    return as_float / norm if norm > 0 else as_float.copy()


def _copy(payload: dict[str, Any]) -> dict[str, Any]:
    copied: dict[str, Any] = json.loads(json.dumps(payload))
    return copied


def _decode(body: str) -> DocumentRecord:
    return DocumentRecord.from_payload(json.loads(body))
