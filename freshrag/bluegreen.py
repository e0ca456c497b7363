"""Blue/green switches between embedding models, with no moment where search fails or goes stale.

To make model B live while A serves:

1. `prepare`: create B's collection (or reuse it), then ask every change to reach B as well as A
   (`Registry.write_also`), then wait for the changes that began before that (`locks.barrier`): from then on
   no change can miss B.
2. Copy the index into B from the text stored with each chunk (no source is read or parsed again), embedded
   by B, and delete from B what A no longer has. Copies race with live changes, so the difference is taken
   again until none is left; what still differs after a few passes is settled one document at a time under
   that document's lock. Chunk ids are the same in every collection (they hash the chunk's text), so the two
   sets of ids are all there is to compare.
3. `swap`: point the alias at B in one atomic operation. Changes keep reaching A for a few seconds more, so a
   search that looked the alias up just before the swap still reads a fresh index; then A is left as it is,
   kept for a rollback (which is the same switch the other way: only what changed since is re-embedded).

`abandon` undoes step 1 for a candidate the gate rejected.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from freshrag import lifecycle
from freshrag.catalog import ALIAS_CACHE_SECONDS, ModelCatalog
from freshrag.chunking import Chunker
from freshrag.embedding import Embedder
from freshrag.state.locks import DocumentLocks, barrier
from freshrag.state.registry import ModelRun, RunStatus
from freshrag.store import ChunkPoint, Store, chunk_collection
from freshrag.store.keywords import chunk_terms

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]

SWAP_GRACE_SECONDS = 3 * ALIAS_CACHE_SECONDS
_UNLOCKED_PASSES = 3
_BATCH = 64  # small batches: a change written to both collections meanwhile waits for one batch at most


@dataclass(frozen=True)
class SyncReport:
    copied: int
    deleted: int
    passes: int
    seconds: float


def _no_progress(stage: str, done: int, total: int) -> None:
    """Progress goes nowhere."""


class Switch:
    """Moves the live index from one model's collection to another's."""

    def __init__(
        self,
        store: Store,
        models: ModelCatalog,
        locks: DocumentLocks,
        chunker: Chunker,
        progress: Progress = _no_progress,
    ) -> None:
        self._store = store
        self._models = models
        self._locks = locks
        self._chunker = chunker
        self._progress = progress

    def prepare(self, run: ModelRun) -> SyncReport:
        """Bring `run`'s collection in line with the live one, while every change reaches both."""
        run.collection = run.collection or chunk_collection(run.version)
        self._models.registry.put(run)
        embedder = self._models.embedder(run)
        live = self._models.live_collection(fresh=True)
        if run.collection == live:
            return SyncReport(0, 0, 0, 0.0)
        self._store.create_chunk_collection(run.collection, embedder.dimension)
        self._models.registry.set_write_also([run.collection])
        waited = barrier(self._locks)
        log.info("%s: writing to both collections (waited for %d changes in flight)", run.version, waited)
        return self._sync(live, run.collection, embedder)

    def swap(self, run: ModelRun) -> ModelRun | None:
        """Make `run` (prepared) live; returns the run it replaced, now retired."""
        assert run.collection is not None, "prepare() first"
        registry = self._models.registry
        old = self._models.live_collection(fresh=True)
        registry.set_write_also([run.collection, old])
        self._store.swap_alias(run.collection)
        self._models.forget_alias()
        now = time.time()
        previous = registry.by_collection(old)
        if previous is not None and previous.version != run.version:
            lifecycle.decide(previous, RunStatus.RETIRED)
            previous.retired_at = now
            registry.put(previous)
        lifecycle.decide(run, RunStatus.LIVE)
        run.promoted_at = now  # the stage stays: the caller clears it once the follow-ups are done
        registry.put(run)
        time.sleep(SWAP_GRACE_SECONDS)  # searches that read `old` just before the swap see it fresh
        registry.set_write_also([])
        log.info("%s is live (collection %s); %s kept for a rollback", run.version, run.collection, old)
        return previous

    def abandon(self, run: ModelRun) -> None:
        """Stop writing to a candidate's collection and delete it."""
        self._models.registry.set_write_also([])
        barrier(self._locks)
        if run.collection is not None and run.collection in self._store.chunk_collections():
            self._store.drop_collection(run.collection)
        run.collection = None
        self._models.registry.put(run)

    def drop_retired(self, keep: int) -> list[str]:
        """Delete the collections of all but the `keep` most recently retired models."""
        retired = [
            run
            for run in self._models.registry.runs()
            if run.status is RunStatus.RETIRED and run.collection is not None
        ]
        retired.sort(key=lambda run: run.retired_at or 0.0, reverse=True)
        dropped = []
        live = self._models.live_collection(fresh=True)
        for run in retired[keep:]:
            if run.collection and run.collection != live:
                if run.collection in self._store.chunk_collections():
                    self._store.drop_collection(run.collection)
                dropped.append(run.collection)
                run.collection = None
                self._models.registry.put(run)
        return dropped

    # ---- copying ----------------------------------------------------------------------------------

    def _sync(self, source: str, target: str, embedder: Embedder) -> SyncReport:
        started = time.perf_counter()
        copied = deleted = passes = 0
        differing: set[str] = set()
        for passes in range(1, _UNLOCKED_PASSES + 1):  # noqa: B007 - reported below
            have, want = self._store.chunk_ids(target), self._store.chunk_ids(source)
            missing = [point for point in want if point not in have]
            extra = [point for point in have if point not in want]
            if not missing and not extra:
                differing = set()
                break
            copied += self._copy(missing, source, target, embedder)
            self._store.delete_chunks(extra, target)
            deleted += len(extra)
            differing = {want[p] for p in missing} | {have[p] for p in extra}
        else:
            have, want = self._store.chunk_ids(target), self._store.chunk_ids(source)
            differing = {doc for point, doc in want.items() if point not in have}
            differing |= {doc for point, doc in have.items() if point not in want}
        for doc_id in sorted(differing):  # what live changes kept moving: settled under each lock
            with self._locks.hold(doc_id):
                want_ids = self._store.chunk_ids_of(doc_id, source)
                have_ids = self._store.chunk_ids_of(doc_id, target)
                copied += self._copy(sorted(want_ids - have_ids), source, target, embedder)
                self._store.delete_chunks(sorted(have_ids - want_ids), target)
                deleted += len(have_ids - want_ids)
        report = SyncReport(copied, deleted, passes, round(time.perf_counter() - started, 3))
        log.info("%s: %d chunks embedded, %d deleted in %s s", target, copied, deleted, report.seconds)
        return report

    def _copy(self, ids: list[str], source: str, target: str, embedder: Embedder) -> int:
        copied = 0
        for start in range(0, len(ids), _BATCH):
            payloads = self._store.chunk_payloads(ids[start : start + _BATCH], source)
            texts = [
                self._chunker.embed_text(p.get("title", ""), tuple(p.get("heading", [])), p.get("text", ""))
                for p in payloads.values()
            ]
            vectors = embedder.embed(texts)
            points = [
                ChunkPoint(
                    id=point,
                    vector=vector,
                    payload=payload,
                    sparse=chunk_terms(
                        payload.get("title", ""), payload.get("heading", []), payload.get("text", "")
                    ),
                )
                for (point, payload), vector in zip(payloads.items(), vectors, strict=True)
            ]
            self._store.upsert_chunks(points, target)
            copied += len(points)
            self._progress("re-embedding", start + len(payloads), len(ids))
        return copied
