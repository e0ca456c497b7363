"""The embedded store: Qdrant's engine in-process (Qdrant Edge), one shard folder per chunk collection.

Layout under `<data dir>/index/`:

    chunks/<collection>/   an Edge shard: named vectors `dense` and `bm25` (IDF modifier), payload indexes
    scratch/               collections being created or dropped; `chunks/` gains or loses a whole one by a
                           rename, so a process killed half-way never leaves there a folder it cannot open
    live                   the name of the live collection; replaced atomically (write, fsync, rename)
    records.sqlite         document records (see `freshrag.store.records`)
    .lock                  held by the one process that owns the folder

The HNSW build (`optimize`) is never run on its own: it holds the Python GIL for its whole run (minutes at
100k points), which would freeze the API and the watcher of the same process. Plain segments answer a
hybrid query over 100k chunks in about 10 ms, so a serving process leaves them plain and `freshrag ingest`
builds the index where nothing waits on it.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np
import qdrant_edge as qe

from freshrag.documents import DocStatus, DocumentRecord
from freshrag.store.interfaces import (
    CHUNKS_ALIAS,
    DENSE,
    SPARSE,
    ChunkPoint,
    ChunkQuery,
    Hit,
    SparseVector,
    StoreCorruptError,
    StoreLockedError,
    chunk_collection,
)
from freshrag.store.records import RecordTable

log = logging.getLogger(__name__)

_PAGE = 1024
_WRITE_BATCH = 512
_INDEXED_FIELDS = ("doc_id", "source_kind", "root", "uri", "title")
_CONFIG_FILE = "edge_config.json"
# Edge's search pool, per shard: one thread by default (FRESHRAG_SEARCH_POOL_THREADS). Edge's own default (a
# thread per CPU) reads segments in parallel, but the caller waits for the pool holding the GIL, so every
# handoff stalls the whole process: on 2 cores one thread served 35% more searches from two threads at once
# (SciFact, hybrid) and was faster for one client up to 100k chunks (hybrid p99 10.1 against 13.4 ms); at
# 1M one client loses about a tenth (127 against 110 ms). Searches run in parallel across requests instead.
SEARCH_POOL_THREADS = 1


class EdgeStore:
    """Chunks in Edge shards, records in SQLite, the live collection in a pointer file. Thread-safe."""

    def __init__(self, folder: Path, *, search_pool_threads: int = SEARCH_POOL_THREADS) -> None:
        """Open (or create) the store at `folder`. `search_pool_threads`: the engine's threads per shard
        that read one search's segments in parallel (see `SEARCH_POOL_THREADS`)."""
        self._folder = folder
        self._pool = search_pool_threads
        self._chunks_dir = folder / "chunks"
        self._pointer = folder / "live"
        self._scratch = folder / "scratch"
        self._chunks_dir.mkdir(parents=True, exist_ok=True)
        self._lock_file = _hold_folder(folder)
        self._lock = threading.Lock()
        self._shards: dict[str, qe.EdgeShard] = {}
        try:
            for path in sorted(p for p in self._chunks_dir.iterdir() if p.is_dir()):
                self._shards[path.name] = _open_shard(path, self._pool)
            self._live = self._read_pointer()
            self._records = RecordTable(folder / "records.sqlite")
        except BaseException:
            self.close()
            raise
        shutil.rmtree(self._scratch, ignore_errors=True)  # what a killed process was creating or dropping

    @property
    def folder(self) -> Path:
        return self._folder

    # ---- collections and the live pointer ----------------------------------------------------------

    def ensure_collections(self, dimension: int, model_version: str) -> None:
        if self._live is None:
            name = chunk_collection(model_version)
            self.create_chunk_collection(name, dimension)
            self.swap_alias(name)

    def live_collection(self) -> str:
        live = self._live
        if live is None:
            raise RuntimeError(f"{self._pointer} names no collection")
        return live

    def create_chunk_collection(self, name: str, dimension: int) -> None:
        with self._lock:
            if name in self._shards:
                return
            staged = self._scratch / f"create-{name}"
            shutil.rmtree(staged, ignore_errors=True)
            staged.parent.mkdir(exist_ok=True)
            shard = qe.EdgeShard.create(str(staged), _config(dimension, self._pool))
            for field in _INDEXED_FIELDS:
                shard.update(qe.UpdateOperation.create_field_index(field, qe.PayloadSchemaType.Keyword))
            shard.close()
            path = self._chunks_dir / name
            staged.rename(path)
            _fsync_dir(self._chunks_dir)
            self._shards[name] = qe.EdgeShard.load(str(path))

    def chunk_collections(self) -> list[str]:
        with self._lock:
            return sorted(self._shards)

    def swap_alias(self, collection: str) -> None:
        with self._lock:
            if collection not in self._shards:
                raise ValueError(f"no chunk collection {collection}")
            staged = self._pointer.with_suffix(".new")
            with staged.open("w", encoding="utf-8") as handle:
                handle.write(collection + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            staged.replace(self._pointer)
            _fsync_dir(self._folder)
            self._live = collection

    def drop_collection(self, name: str) -> None:
        with self._lock:  # under the lock: a swap to `name` cannot slip in between the check and the drop
            if name == self._live:
                raise ValueError(f"{name} is live; swap the alias away first")
            shard = self._shards.pop(name, None)
            if shard is None:
                return
            shard.close()
            doomed = self._scratch / f"drop-{name}"
            shutil.rmtree(doomed, ignore_errors=True)
            doomed.parent.mkdir(exist_ok=True)
            (self._chunks_dir / name).rename(doomed)
            _fsync_dir(self._chunks_dir)
        shutil.rmtree(doomed, ignore_errors=True)

    def ping(self) -> None:
        self._shard(None).count(qe.CountRequest(exact=False))

    def optimize(self) -> bool:
        with self._lock:
            shards = list(self._shards.values())
        built = [shard.optimize() for shard in shards]  # every shard, not only up to the first built
        return any(built)

    # ---- chunks ------------------------------------------------------------------------------------

    def existing_chunk_ids(self, ids: list[str], collection: str | None = None) -> set[str]:
        shard = self._shard(collection)
        found: set[str] = set()
        for start in range(0, len(ids), _PAGE):
            records = shard.retrieve(
                _point_ids(ids[start : start + _PAGE]), with_payload=False, with_vector=False
            )
            found.update(str(record.id) for record in records)
        return found

    def upsert_chunks(self, points: list[ChunkPoint], collection: str | None = None) -> None:
        shard = self._shard(collection)
        for start in range(0, len(points), _WRITE_BATCH):
            batch = [
                qe.Point(
                    id=point.id,
                    vector={
                        DENSE: point.vector.tolist(),
                        SPARSE: qe.SparseVector(point.sparse.indices, point.sparse.values),
                    },
                    payload=point.payload,
                )
                for point in points[start : start + _WRITE_BATCH]
            ]
            shard.update(qe.UpdateOperation.upsert_points(batch))

    def delete_chunks(self, ids: list[str], collection: str | None = None) -> None:
        if not ids:
            return
        shard = self._shard(collection)
        for start in range(0, len(ids), _WRITE_BATCH):
            shard.update(qe.UpdateOperation.delete_points(_point_ids(ids[start : start + _WRITE_BATCH])))

    def chunk_ids_of(self, doc_id: str, collection: str | None = None) -> set[str]:
        return {str(r.id) for r in self._scroll(self._shard(collection), _match("doc_id", doc_id), False)}

    def chunk_ids(self, collection: str) -> dict[str, str]:
        return {
            str(r.id): str((r.payload or {}).get("doc_id", ""))
            for r in self._scroll(self._shard(collection), None, ["doc_id"])
        }

    def chunk_payloads(self, ids: list[str], collection: str) -> dict[str, dict[str, Any]]:
        shard = self._shard(collection)
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(ids), _PAGE):
            for record in shard.retrieve(
                _point_ids(ids[start : start + _PAGE]), with_payload=True, with_vector=False
            ):
                found[str(record.id)] = dict(record.payload or {})
        return found

    def chunk_vectors(self, ids: list[str], collection: str) -> dict[str, tuple[dict[str, Any], np.ndarray]]:
        shard = self._shard(collection)
        found: dict[str, tuple[dict[str, Any], np.ndarray]] = {}
        for start in range(0, len(ids), _PAGE):
            for record in shard.retrieve(
                _point_ids(ids[start : start + _PAGE]), with_payload=True, with_vector=[DENSE]
            ):
                vectors = record.vector
                if isinstance(vectors, dict) and DENSE in vectors:
                    found[str(record.id)] = (
                        dict(record.payload or {}),
                        np.asarray(vectors[DENSE], np.float32),
                    )
        return found

    def chunk_similarities(self, ids: list[str], vector: np.ndarray, collection: str) -> dict[str, float]:
        # Scored by the engine: reading ten vectors back as Python lists cost four times as much.
        shard = self._shard(collection)
        nearest = qe.Query.Nearest(vector.tolist(), using=DENSE)
        found: dict[str, float] = {}
        for start in range(0, len(ids), _PAGE):
            scored = _scored_among(shard, nearest, _point_ids(ids[start : start + _PAGE]))
            found.update((str(point_id), float(score)) for point_id, score in scored.items())
        return found

    def search(self, query: ChunkQuery, collection: str | None = None) -> list[Hit]:
        shard = self._shard(collection)
        query_filter = _filter(query)
        sparse = query.sparse if query.sparse is not None and query.sparse.indices else None
        dense = query.dense.tolist() if query.dense is not None else None
        if dense is not None and sparse is not None:
            return _without_canary(self._hybrid(shard, query, dense, sparse, query_filter), query)
        if dense is not None:
            using: Any = qe.Query.Nearest(dense, using=DENSE)
        elif sparse is not None:
            using = qe.Query.Nearest(qe.SparseVector(sparse.indices, sparse.values), using=SPARSE)
        else:
            return []  # a keyword query of stop words only: no term can match
        spare = _canary_room(query)
        points = shard.query(
            qe.QueryRequest(query=using, filter=query_filter, limit=query.limit + spare, with_payload=True)
        )
        hits = [
            Hit(
                id=str(p.id),
                score=float(p.score),
                payload=dict(p.payload or {}),
                similarity=float(p.score) if dense is not None else None,
            )
            for p in points
        ]
        return _without_canary(hits, query)

    def _hybrid(
        self,
        shard: qe.EdgeShard,
        query: ChunkQuery,
        dense: list[float],
        sparse: SparseVector,
        query_filter: qe.Filter | None,
    ) -> list[Hit]:
        """The fusion of `freshrag.store.fusion`, computed by the engine: the candidates (the union of the
        dense list and the keyword list, each rescored by its cosine) are scored by the fusion's formula and
        only the winners come back, with their payloads. The formula divides BM25 by the keyword list's best
        score, read first; the winners' cosines are read after, by id.

        Fused in Python instead, the engine handed over about 110 point ids a search (each turned into a
        `uuid.UUID` by Python code), and the payloads took a call of their own: 0.18 ms more of each hybrid
        search under the GIL (300 SciFact queries, one embedded between searches as the server does), with
        the same ranking for all of them. The dense prefetch needs only `limit` points: a chunk the keyword
        list did not find scores `weights[0] * cosine`, so `limit` chunks of a higher cosine rank above it."""
        limit = query.limit + _canary_room(query)
        nearest = qe.Query.Nearest(dense, using=DENSE)
        keyword = qe.Query.Nearest(qe.SparseVector(sparse.indices, sparse.values), using=SPARSE)
        best = shard.query(qe.QueryRequest(query=keyword, filter=query_filter, limit=1))
        by_keyword = qe.Prefetch(query=keyword, filter=query_filter, limit=query.prefetch)
        candidates = qe.Prefetch(
            prefetches=[
                qe.Prefetch(query=nearest, filter=query_filter, limit=limit),
                by_keyword,
            ],
            query=nearest,
            filter=query_filter,
            limit=limit + query.prefetch,
        )
        points = shard.query(
            qe.QueryRequest(
                prefetches=[candidates, by_keyword],
                query=_fusion_formula(query.weights, float(best[0].score) if best else 0.0),
                limit=limit,
                with_payload=True,
            )
        )
        cosines = _scored_among(shard, nearest, [p.id for p in points]) if points else {}
        return [
            Hit(
                id=str(p.id),
                score=float(p.score),
                payload=dict(p.payload or {}),
                similarity=float(cosines.get(p.id, 0.0)),
            )
            for p in points
        ]

    def count_chunks(self) -> int:
        return int(self._shard(None).count(qe.CountRequest(exact=True)))

    def sample_vectors(self, size: int) -> np.ndarray:
        canary = qe.Filter(must_not=[qe.FieldCondition(key="source_kind", match=qe.MatchValue("canary"))])
        points = self._shard(None).query(
            qe.QueryRequest(query=qe.Sample.Random, filter=canary, limit=size, with_vector=[DENSE])
        )
        rows = [p.vector[DENSE] for p in points if isinstance(p.vector, dict) and DENSE in p.vector]
        return np.asarray(rows, dtype=np.float32).reshape(len(rows), -1)

    def all_chunk_payloads(self, collection: str | None = None) -> Iterator[dict[str, Any]]:
        for record in self._scroll(self._shard(collection), None, True):
            yield dict(record.payload or {})

    # ---- document records --------------------------------------------------------------------------

    def get_record(self, doc_id: str) -> DocumentRecord | None:
        return self._records.get(doc_id)

    def get_records(self, doc_ids: list[str]) -> dict[str, DocumentRecord]:
        return self._records.get_many(doc_ids)

    def put_record(self, record: DocumentRecord) -> None:
        self._records.put(record)

    def put_records(self, records: list[DocumentRecord]) -> None:
        """Write many records in one transaction (bulk moves)."""
        self._records.put_many(records)

    def records(
        self, *, status: DocStatus | None = None, root: str | None = None
    ) -> Iterator[DocumentRecord]:
        return self._records.select(status=status, root=root)

    def count_records(self) -> dict[DocStatus, int]:
        return self._records.counts()

    def close(self) -> None:
        with self._lock:
            shards, self._shards = list(self._shards.values()), {}
        for shard in shards:
            shard.flush()
            shard.close()
        records = getattr(self, "_records", None)
        if records is not None:
            records.close()
        if not self._lock_file.closed:
            self._lock_file.close()  # releases the folder lock

    # ---- helpers -----------------------------------------------------------------------------------

    def _shard(self, collection: str | None) -> qe.EdgeShard:
        name = collection or self.live_collection()
        shard = self._shards.get(name)
        if shard is None:
            raise KeyError(f"no chunk collection {name}")
        return shard

    @staticmethod
    def _scroll(
        shard: qe.EdgeShard, query_filter: qe.Filter | None, with_payload: bool | list[str]
    ) -> Iterator[qe.Record]:
        offset: Any = None
        while True:
            page, offset = shard.scroll(
                qe.ScrollRequest(
                    offset=offset,
                    limit=_PAGE,
                    filter=query_filter,
                    with_payload=with_payload,
                    with_vector=False,
                )
            )
            yield from page
            if offset is None:
                return

    def _read_pointer(self) -> str | None:
        if not self._pointer.is_file():
            return None
        try:
            name = self._pointer.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise StoreCorruptError(f"{self._pointer}: not a readable live pointer ({exc})") from None
        if name not in self._shards:
            raise StoreCorruptError(
                f"{self._pointer}: names the collection {name!r}, which is not in {self._chunks_dir}"
            )
        return name


_INDEXING_THRESHOLD_KB = 1_000
# Below this many KB of vectors a search scans them all instead of walking the graph. Edge's default (10 MB)
# scanned all 10.5k SciFact chunks although their graph was built: 0.27 ms of a dense search, all of it
# holding the GIL, against 0.11 ms through the graph (recall@10 against the scan 0.995; SciFact nDCG@10
# unchanged: dense 0.651, hybrid 0.721). A segment large enough to be indexed is searched through its index.
_FULL_SCAN_THRESHOLD_KB = _INDEXING_THRESHOLD_KB


def _config(dimension: int, pool: int) -> qe.EdgeConfig:
    return qe.EdgeConfig(
        # Half-precision storage halves what a brute-force search reads (5.9 against 11.1 ms over 100k
        # vectors here); unit vectors lose nothing a ranking notices.
        vectors={
            DENSE: qe.EdgeVectorParams(
                size=dimension, distance=qe.Distance.Cosine, datatype=qe.VectorStorageDatatype.Float16
            )
        },
        sparse_vectors=_sparse_vectors(),
        # What `optimize` (run only by `freshrag ingest`, from FRESHRAG_INDEX_BUILD_MIN_CHUNKS) builds an
        # index for: segments over 1 MB of vectors. Edge's own default left 10k chunks unindexed, though
        # the built segment answered a hybrid search under 20 clients 7% faster (p99 145 -> 125 ms here).
        optimizers=qe.EdgeOptimizersConfig(indexing_threshold=_INDEXING_THRESHOLD_KB),
        hnsw_config=_hnsw_config(),
        max_search_threads=pool,
    )


def _hnsw_config() -> qe.HnswIndexConfig:
    # m and ef_construct are Edge's defaults: a graph built by an earlier build stays valid.
    return qe.HnswIndexConfig(m=16, ef_construct=100, full_scan_threshold=_FULL_SCAN_THRESHOLD_KB)


def _open_shard(path: Path, pool: int) -> qe.EdgeShard:
    """Load the shard at `path` after checking, without writing anything, that it is one of ours; its search
    pool is made `pool` threads."""
    config_file = path / _CONFIG_FILE
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise StoreCorruptError(
            f"{path}: not a freshrag chunk collection (no readable {_CONFIG_FILE}: {exc})"
        ) from None
    if DENSE not in (config.get("vectors") or {}) or SPARSE not in (config.get("sparse_vectors") or {}):
        raise StoreCorruptError(
            f"{path}: not a freshrag chunk collection (it lacks the named vectors {DENSE!r} and {SPARSE!r})"
        )
    if not path.name.startswith(f"{CHUNKS_ALIAS}__"):
        raise StoreCorruptError(f"{path}: not a freshrag chunk collection (its name lacks {CHUNKS_ALIAS}__)")
    try:
        shard = qe.EdgeShard.load(str(path))
    except Exception as exc:
        reason = " ".join(str(exc).split())  # the engine's message may span lines; ours is one
        raise StoreCorruptError(f"{path}: the shard cannot be opened ({reason})") from None
    hnsw = config.get("hnsw_config") or {}
    if (
        config.get("max_search_threads") == pool
        and hnsw.get("full_scan_threshold") == _FULL_SCAN_THRESHOLD_KB
    ):
        return shard
    # Created by an earlier build, or with another pool: opened once as it was (so a broken one is left
    # untouched), then again with the search pool and graph settings asked for now, which Edge keeps in the
    # shard's config. A graph already built keeps its settings until the next `optimize` builds it again.
    shard.close()
    upgrade = qe.EdgeConfig(
        sparse_vectors=_sparse_vectors(), hnsw_config=_hnsw_config(), max_search_threads=pool
    )
    return qe.EdgeShard.load(str(path), upgrade)


def _sparse_vectors() -> dict[str, qe.EdgeSparseVectorParams]:
    """BM25 term weights; the engine supplies the IDF from the shard's own statistics."""
    return {SPARSE: qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf)}


def _hold_folder(folder: Path) -> IO[str]:
    handle = (folder / ".lock").open("a+", encoding="utf-8")
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise StoreLockedError(
            f"the embedded store at {folder} is in use by another freshrag process"
        ) from None
    return handle


def _fsync_dir(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _point_ids(ids: list[str]) -> list[qe.PointId]:
    return list(ids)


def _scored_among(shard: qe.EdgeShard, nearest: Any, ids: list[Any]) -> dict[Any, float]:
    """The score of `nearest` for each of the points `ids` that the shard holds, by the engine's ids: the
    engine scores them, no vector is read back."""
    only = qe.Filter(must=[qe.HasIdCondition(set(ids))])
    return {p.id: p.score for p in shard.query(qe.QueryRequest(query=nearest, filter=only, limit=len(ids)))}


def _fusion_formula(weights: tuple[float, float], best_keyword: float) -> qe.Formula:
    """`weights[0] * max(cosine, 0) + weights[1] * bm25 / best_keyword` over the prefetches [candidates
    rescored by cosine, keyword list]; a candidate the keyword list did not find scores 0 there."""
    expression = qe.Expression
    cosine = expression.Max([expression.Variable("$score[0]"), expression.Constant(0.0)])
    terms = [expression.Mult([expression.Constant(weights[0]), cosine])]
    if best_keyword > 0:
        scale = expression.Constant(weights[1] / best_keyword)
        terms.append(expression.Mult([scale, expression.Variable("$score[1]")]))
    return qe.Formula(expression.Sum(terms), defaults={"$score[1]": 0.0})


def _match(key: str, value: str) -> qe.Filter:
    return qe.Filter(must=[qe.FieldCondition(key=key, match=qe.MatchValue(value))])


def _filter(query: ChunkQuery) -> qe.Filter | None:
    """The query's `where` as a filter. The canary is not filtered out here: on plain segments a filter is
    checked point by point (it doubled a dense search over 100k chunks), and the canary is one chunk, so
    one more result is fetched instead and the canary dropped from it (`_without_canary`)."""
    if not query.where:
        return None
    return qe.Filter(must=[qe.FieldCondition(key=k, match=qe.MatchValue(v)) for k, v in query.where.items()])


def _canary_room(query: ChunkQuery) -> int:
    return 1 if query.hides_canary else 0


def _without_canary(hits: list[Hit], query: ChunkQuery) -> list[Hit]:
    if query.hides_canary:
        hits = [hit for hit in hits if hit.payload.get("source_kind") != "canary"]
    return hits[: query.limit]
