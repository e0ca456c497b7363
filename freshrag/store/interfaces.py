"""What the rest of freshrag asks of the index: the `Store` protocol and the plain data it speaks.

Every chunk is one point with two named vectors: `dense` (the embedding model's) and `bm25` (a sparse vector
of term frequencies whose IDF the engine supplies at query time, so the index stays incremental). Chunks live
in physical collections named after the model that embedded them; one of them is live (an alias on a server, a
pointer file in the embedded store) and a swap moves it atomically. Document records, one per document, live
beside the chunks. Three implementations: `EdgeStore` (Qdrant's engine in-process), `ServerStore` (a Qdrant
server through qdrant-client) and `MemoryStore` (a fake for fast unit tests).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

import numpy as np

from freshrag.documents import DocStatus, DocumentRecord

CHUNKS_ALIAS = "freshrag_chunks"
DENSE = "dense"
SPARSE = "bm25"
# Enough of each retriever's best for the fused list to hold the top results of both.
PREFETCH_FACTOR = 4
PREFETCH_MIN = 50

_NAMESPACE = uuid.UUID("9b1f3c52-6a0e-4a53-8b7e-3f6f1e1d2c10")


class StoreLockedError(RuntimeError):
    """Another process holds the embedded store's folder."""


class StoreCorruptError(RuntimeError):
    """A folder of the embedded store cannot be opened as what it should be; the message names it."""


class SearchMode(StrEnum):
    DENSE = "dense"
    KEYWORD = "keyword"
    HYBRID = "hybrid"


@dataclass(frozen=True)
class SparseVector:
    """Token ids and their weights (BM25 term frequencies for documents, 1.0 per token for queries)."""

    indices: list[int]
    values: list[float]


@dataclass(frozen=True)
class ChunkPoint:
    id: str
    vector: np.ndarray
    payload: dict[str, Any]
    sparse: SparseVector


@dataclass(frozen=True)
class Hit:
    """A found chunk: its score under the query's mode and, when the store knows it, its cosine similarity to
    the query's dense vector (which means the same in every mode) or its dense vector."""

    id: str
    score: float
    payload: dict[str, Any]
    dense: np.ndarray | None = None
    similarity: float | None = None


@dataclass(frozen=True)
class ChunkQuery:
    """One search. `dense` alone is a dense search, `sparse` alone a keyword search, both a hybrid one
    fused by their weighted scores (`weights`: dense, keyword; see `freshrag.store.fusion`). `where`
    matches payload fields exactly; the canary is left out unless `where` asks for a source kind."""

    limit: int
    dense: np.ndarray | None = None
    sparse: SparseVector | None = None
    where: dict[str, str] = field(default_factory=dict)
    weights: tuple[float, float] = (1.0, 1.0)

    @property
    def prefetch(self) -> int:
        return max(self.limit * PREFETCH_FACTOR, PREFETCH_MIN)

    @property
    def hides_canary(self) -> bool:
        return "source_kind" not in self.where


class Store(Protocol):
    """Chunks and document records. Every method is safe to call from several threads at once."""

    # ---- collections and the live pointer (blue/green) ----------------------------------------------
    def ensure_collections(self, dimension: int, model_version: str) -> None:
        """Create the first chunk collection, make it live, and create the records, unless they exist."""
        ...

    def live_collection(self) -> str:
        """The physical collection searches read."""
        ...

    def create_chunk_collection(self, name: str, dimension: int) -> None:
        """Create the chunk collection `name` unless it exists."""
        ...

    def chunk_collections(self) -> list[str]:
        """Every physical chunk collection, whichever model it holds."""
        ...

    def swap_alias(self, collection: str) -> None:
        """Make `collection` live in one atomic step: a search sees the old one or the new one."""
        ...

    def drop_collection(self, name: str) -> None:
        """Delete the chunk collection `name`; raises ValueError for the live one."""
        ...

    def ping(self) -> None:
        """Raise if the store cannot be reached."""
        ...

    def optimize(self) -> bool:
        """Build the vector indexes now (HNSW); True when anything was built. Slow, and in the embedded
        store it holds the whole process: call it only where nothing waits (see `freshrag ingest`)."""
        ...

    # ---- chunks ------------------------------------------------------------------------------------
    def existing_chunk_ids(self, ids: list[str], collection: str | None = None) -> set[str]:
        """Which of `ids` are stored in `collection` (the live one by default)."""
        ...

    def upsert_chunks(self, points: list[ChunkPoint], collection: str | None = None) -> None: ...

    def delete_chunks(self, ids: list[str], collection: str | None = None) -> None: ...

    def chunk_ids_of(self, doc_id: str, collection: str | None = None) -> set[str]:
        """Every chunk id stored for `doc_id`, whatever its record says (orphans included)."""
        ...

    def chunk_ids(self, collection: str) -> dict[str, str]:
        """Every chunk of `collection`: point id to document id."""
        ...

    def chunk_payloads(self, ids: list[str], collection: str) -> dict[str, dict[str, Any]]:
        """The payloads of those of `ids` that `collection` holds."""
        ...

    def chunk_vectors(self, ids: list[str], collection: str) -> dict[str, tuple[dict[str, Any], np.ndarray]]:
        """The payload and dense vector of those of `ids` that `collection` holds."""
        ...

    def chunk_similarities(self, ids: list[str], vector: np.ndarray, collection: str) -> dict[str, float]:
        """The cosine of `vector` and the dense vector of each of `ids` that `collection` holds, computed
        where the vectors are (no vector is read back)."""
        ...

    def search(self, query: ChunkQuery, collection: str | None = None) -> list[Hit]:
        """The best `query.limit` chunks of `collection` (the live one by default), best first."""
        ...

    def count_chunks(self) -> int:
        """Chunks in the live collection."""
        ...

    def sample_vectors(self, size: int) -> np.ndarray:
        """Up to `size` dense vectors of the live collection drawn at random, the canary excluded."""
        ...

    def all_chunk_payloads(self, collection: str | None = None) -> Iterator[dict[str, Any]]:
        """Every stored chunk's payload."""
        ...

    # ---- document records --------------------------------------------------------------------------
    def get_record(self, doc_id: str) -> DocumentRecord | None: ...

    def get_records(self, doc_ids: list[str]) -> dict[str, DocumentRecord]: ...

    def put_record(self, record: DocumentRecord) -> None: ...

    def records(
        self, *, status: DocStatus | None = None, root: str | None = None
    ) -> Iterator[DocumentRecord]: ...

    def count_records(self) -> dict[DocStatus, int]: ...

    def close(self) -> None: ...


def chunk_point_id(doc_id: str, chunk_key: str) -> str:
    """The deterministic point id of one chunk of one document."""
    return str(uuid.uuid5(_NAMESPACE, f"{doc_id}\x00{chunk_key}"))


def record_point_id(doc_id: str) -> str:
    """The point id of a document's record where records are points (a Qdrant server)."""
    return str(uuid.uuid5(_NAMESPACE, f"record\x00{doc_id}"))


def chunk_collection(model_version: str) -> str:
    """The physical collection holding the chunks embedded by `model_version`."""
    slug = "".join(c if c.isalnum() else "_" for c in model_version.lower())
    return f"{CHUNKS_ALIAS}__{slug}"
