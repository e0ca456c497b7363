"""The index: chunks (dense and BM25 vectors) and document records, embedded or on a Qdrant server.

Point ids are uuid5 of (document id, chunk key), so writing the same chunk twice is a no-op and a chunk whose
text did not change is found, not re-embedded. See `freshrag.store.interfaces` for the contract.
"""

from __future__ import annotations

from freshrag.settings import Settings
from freshrag.store.interfaces import (
    CHUNKS_ALIAS,
    ChunkPoint,
    ChunkQuery,
    Hit,
    SearchMode,
    SparseVector,
    Store,
    StoreCorruptError,
    StoreLockedError,
    chunk_collection,
    chunk_point_id,
)

__all__ = [
    "CHUNKS_ALIAS",
    "ChunkPoint",
    "ChunkQuery",
    "Hit",
    "SearchMode",
    "SparseVector",
    "Store",
    "StoreCorruptError",
    "StoreLockedError",
    "chunk_collection",
    "chunk_point_id",
    "open_store",
]


def open_store(settings: Settings) -> Store:
    """The store the settings name: a Qdrant server at `qdrant_url`, or the embedded engine under the
    data dir (moving a data dir written by an earlier freshrag into it first). Raises `StoreLockedError`
    when another process holds the embedded folder, `StoreCorruptError` when a folder in it is not what it
    should be."""
    if settings.qdrant_url:
        from qdrant_client import QdrantClient

        from freshrag.store.server import ServerStore

        client = QdrantClient(url=settings.qdrant_url, api_key=settings.qdrant_api_key, timeout=30)
        return ServerStore(client, local=False)
    from freshrag.store.edge import EdgeStore
    from freshrag.store.legacy import migrate_legacy

    store = EdgeStore(settings.index_path, search_pool_threads=settings.search_pool_threads)
    try:
        migrate_legacy(settings.qdrant_path, store)
    except BaseException:
        store.close()
        raise
    return store
