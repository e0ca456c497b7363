"""Applying changes to the index: load, parse, chunk, embed only new chunks, write new, delete stale, record.

The order of writes is what keeps the invariants: new chunks are written before stale ones are deleted (the
document never disappears from search while it is re-indexed), and the ids about to be written are recorded
before they are written, so the next run finds and deletes any a crash left behind, by id, without scanning
the index (the work per change never grows with the corpus). Work is recomputed
from the source's current state, so applying a change twice, or two changes in either order, ends the same.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from typing import Protocol

import numpy as np

from freshrag.activity import Activity
from freshrag.catalog import Target
from freshrag.chunking import Chunk, Chunker
from freshrag.documents import Change, DocStatus, DocumentRecord, Op, Origin, SourceKind, content_hash
from freshrag.embedding import Embedder
from freshrag.parsing import Failed, ParsedDocument, ParseResult, Skipped, format_of, parse_file
from freshrag.reasons import reason_kind
from freshrag.sources import Ack, FileState, Gone, Loaded, LoadResult, Unreadable, nothing_to_ack
from freshrag.state.locks import DocumentLocks
from freshrag.store import ChunkPoint, Store, chunk_point_id
from freshrag.store.keywords import chunk_terms
from freshrag.telemetry import Metrics

ContentLoader = Callable[[Change], LoadResult]
# A file's name (its extension picks the format) and bytes to its text: `parse_file`, in a parser process.
Parse = Callable[[str, bytes], ParseResult]

log = logging.getLogger(__name__)

# Texts per call of the embedder. Between two calls the indexer looks whether the process is stopping, so
# that a big document (thousands of chunks, minutes of embedding) never holds up a shutdown for more than
# one slice: about two seconds on one core.
EMBED_SLICE = 128


class _TooSlow(Exception):
    """One document's embedding passed FRESHRAG_MAX_DOCUMENT_SECONDS."""


def _embeds(plan: _Plan) -> bool:
    """Whether the plan's document writes chunks (so its rows are among the embedded vectors)."""
    return plan.outcome == "indexed"


class IndexingInterrupted(Exception):
    """The process is stopping: the change was left before any of its writes, and is applied again by the
    next run (the broker delivers it again, the start-up reconcile or the journal finds it)."""


class WriteTargets(Protocol):
    def write_targets(self) -> list[Target]:
        """Every collection a change must reach now, the live one first (see `freshrag.catalog`)."""
        ...


@dataclass(frozen=True)
class Outcome:
    """What applying one change did. `outcome` is one of indexed, unchanged, deleted, skipped, failed,
    stale (an older version than the one indexed, ignored). `ack`, from the source's loader, tells the
    source that the state it handed over is in the index: call it once the change is settled."""

    doc_id: str
    outcome: str
    embedded: int = 0
    reused: int = 0
    reason: str | None = None
    ack: Ack = field(default=nothing_to_ack, compare=False, repr=False)

    def to_json(self) -> dict[str, object]:
        """The outcome as the task answers it (the acknowledgement left out)."""
        return {
            "doc_id": self.doc_id,
            "outcome": self.outcome,
            "embedded": self.embedded,
            "reused": self.reused,
            "reason": self.reason,
        }


@dataclass
class _Plan:
    change: Change
    previous: DocumentRecord | None
    record: DocumentRecord
    chunks: list[Chunk] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    to_embed: dict[str, list[int]] = field(default_factory=dict)  # collection: chunks it lacks
    outcome: str = "indexed"
    source_time: float | None = None  # the source's own time of this content (mtime, CMS update time)
    ack: Ack = nothing_to_ack  # the loader's acknowledgement of the state planned from


class Indexer:
    """Applies changes to the store. Safe to call from several threads: each document is locked while its
    change is applied. Every change reaches every collection `targets` names (two during a blue/green
    switch), each embedded by its own model."""

    def __init__(
        self,
        store: Store,
        targets: WriteTargets,
        chunker: Chunker,
        locks: DocumentLocks,
        metrics: Metrics,
        load: ContentLoader,
        *,
        activity: Activity | None = None,
        clock: Callable[[], float] = time.time,
        max_chunks: int = 20_000,
        max_seconds: float = 600.0,
        stopping: threading.Event | None = None,
        parse: Parse = parse_file,
    ) -> None:
        self._store = store
        self._targets = targets
        self._chunker = chunker
        self._locks = locks
        self._metrics = metrics
        self._load = load
        self._activity = activity
        self._clock = clock
        self._max_chunks = max_chunks
        self._max_seconds = max_seconds
        self._stopping = stopping or threading.Event()
        self._parse = parse

    def apply(self, change: Change) -> Outcome:
        """Bring the index in line with the current state of `change`'s document."""
        return self.apply_many([change])[0]

    def apply_many(self, changes: Sequence[Change]) -> list[Outcome]:
        """Apply several changes, embedding all their new chunks in one batch (bulk ingest's fast path).
        Raises `IndexingInterrupted`, having written nothing, when the process stops while it embeds."""
        latest = {change.doc_id: change for change in changes}  # the same document twice: once is enough
        with ExitStack() as stack:
            for doc_id in sorted(latest):
                stack.enter_context(self._locks.hold(doc_id))
            targets = self._targets.write_targets()  # under the locks: a switch waits for them
            plans = [self._plan(change, targets) for change in latest.values()]
            # Every write comes after the embedding: stopping during it leaves the index as it was.
            vectors = self._embed_plans(plans, targets)
            offsets = dict.fromkeys(vectors, 0)
            outcomes = []
            for plan in plans:
                mine = {}
                for collection, rows in vectors.items():
                    count = len(plan.to_embed.get(collection, []))
                    mine[collection] = rows[offsets[collection] : offsets[collection] + count]
                    offsets[collection] += count
                outcomes.append(self._commit(plan, [t.collection for t in targets], mine))
        by_doc = {outcome.doc_id: outcome for outcome in outcomes}
        return [by_doc[change.doc_id] for change in changes]

    def _embed_plans(self, plans: list[_Plan], targets: list[Target]) -> dict[str, np.ndarray]:
        """Each target's new chunks, embedded plan by plan in plan order. Documents of one slice or less
        embed together (bulk ingest's batches); a bigger one embeds alone, `EMBED_SLICE` chunks at a time,
        and fails once it has taken `max_seconds` (its rows are then left out: it writes no chunk)."""
        embedded: dict[str, dict[int, np.ndarray]] = {}
        for target in targets:
            rows = embedded[target.collection] = {}
            texts = {
                number: [plan.chunks[i].embed_text for i in plan.to_embed.get(target.collection, [])]
                for number, plan in enumerate(plans)
            }
            small = [number for number, batch in texts.items() if 0 < len(batch) <= EMBED_SLICE]
            if small:
                together = self._embed_slices(
                    target.embedder, [text for number in small for text in texts[number]]
                )
                start = 0
                for number in small:
                    rows[number] = together[start : start + len(texts[number])]
                    start += len(texts[number])
            for number, batch in texts.items():
                if len(batch) > EMBED_SLICE and plans[number].outcome == "indexed":
                    try:
                        rows[number] = self._embed_slices(target.embedder, batch, self._max_seconds)
                    except _TooSlow:
                        plans[number] = self._too_slow(plans[number])
        # A document that failed in the second target leaves the first target's rows too.
        return {
            target.collection: np.concatenate(
                [rows[n] for n in range(len(plans)) if n in rows and _embeds(plans[n])]
                or [np.zeros((0, target.embedder.dimension), dtype=np.float32)]
            )
            for target in targets
            for rows in [embedded[target.collection]]
        }

    def _embed_slices(self, embedder: Embedder, texts: list[str], limit: float = math.inf) -> np.ndarray:
        """`texts` embedded `EMBED_SLICE` at a time, raising `_TooSlow` once that has taken `limit` seconds.
        Between two slices, gives up if the process is stopping."""
        if len(texts) <= EMBED_SLICE:
            return embedder.embed(texts)
        started = time.monotonic()
        slices = []
        for start in range(0, len(texts), EMBED_SLICE):
            if self._stopping.is_set():
                raise IndexingInterrupted(f"stopped after embedding {start} of {len(texts)} chunks")
            if time.monotonic() - started > limit:
                raise _TooSlow
            slices.append(embedder.embed(texts[start : start + EMBED_SLICE]))
        return np.concatenate(slices)

    def _too_slow(self, plan: _Plan) -> _Plan:
        reason = (
            f"embedding its {len(plan.chunks)} chunks took over {self._max_seconds:g} s "
            "(FRESHRAG_MAX_DOCUMENT_SECONDS)"
        )
        log.warning("failed %s: %s", plan.change.uri, reason)
        record = replace(plan.record, status=DocStatus.FAILED, reason=reason, chunk_ids=[])
        return _Plan(plan.change, plan.previous, record, outcome=DocStatus.FAILED.value, ack=plan.ack)

    def _plan(self, change: Change, targets: list[Target]) -> _Plan:
        previous = self._store.get_record(change.doc_id)
        now = self._clock()
        base = DocumentRecord(
            doc_id=change.doc_id,
            status=DocStatus.DELETED,
            source_kind=change.source_kind,
            uri=change.uri,
            root=change.root,
            title=previous.title if previous else "",
            version=previous.version if previous else 0,
            source_version=change.version,
            indexed_at=now,
            updated_at=now,
        )
        if _is_stale(change, previous):
            return _Plan(change, previous, previous or base, outcome="stale")
        loaded = self._load(change)
        if isinstance(loaded, Gone):
            existed = previous is not None and previous.status is not DocStatus.DELETED
            record = replace(base, version=base.version + 1 if existed else base.version)
            return _Plan(change, previous, record, outcome="deleted", ack=loaded.ack)
        if isinstance(loaded, Unreadable):
            status = DocStatus.SKIPPED if loaded.skipped else DocStatus.FAILED
            plan = self._not_indexed(change, previous, base, status, loaded.reason, None, loaded.state)
        else:
            plan = self._plan_content(change, previous, base, loaded, targets)
            plan.source_time = _source_time(change, loaded)
        plan.ack = loaded.ack
        return plan

    def _plan_content(
        self,
        change: Change,
        previous: DocumentRecord | None,
        base: DocumentRecord,
        loaded: Loaded,
        targets: list[Target],
    ) -> _Plan:
        digest = content_hash(loaded.data + (loaded.title or "").encode())
        state = loaded.state
        base = replace(
            base, source_version=loaded.version if loaded.version is not None else base.source_version
        )
        settled = (DocStatus.INDEXED, DocStatus.SKIPPED, DocStatus.FAILED)
        if previous is not None and previous.content_hash == digest and previous.status in settled:
            record = replace(
                previous,
                size_bytes=state.size,
                mtime_ns=state.mtime_ns,
                uri=change.uri,
                source_version=base.source_version,
            )
            return _Plan(change, previous, record, outcome="unchanged")
        version = base.version + 1
        name = loaded.name or change.uri
        started = time.perf_counter()
        parsed = self._parse(name, loaded.data)
        known = format_of(name)
        self._metrics.parse_seconds.labels(known.name if known else "unsupported").observe(
            time.perf_counter() - started
        )
        if isinstance(parsed, ParsedDocument) and loaded.title:
            parsed = replace(parsed, title=loaded.title)
        if isinstance(parsed, Skipped | Failed):
            status = DocStatus.SKIPPED if isinstance(parsed, Skipped) else DocStatus.FAILED
            plan = self._not_indexed(change, previous, base, status, parsed.reason, digest, state)
            plan.record.version = version
            return plan
        return self._plan_chunks(change, previous, base, parsed, digest, state, version, targets)

    def _plan_chunks(
        self,
        change: Change,
        previous: DocumentRecord | None,
        base: DocumentRecord,
        parsed: ParsedDocument,
        digest: str,
        state: FileState,
        version: int,
        targets: list[Target],
    ) -> _Plan:
        chunks = self._chunker.chunk(parsed)
        if len(chunks) > self._max_chunks:
            reason = (
                f"{len(chunks)} chunks, over the limit of {self._max_chunks} per document "
                "(FRESHRAG_MAX_CHUNKS_PER_DOCUMENT)"
            )
            plan = self._not_indexed(change, previous, base, DocStatus.FAILED, reason, digest, state)
            plan.record.version = version
            return plan
        ids = [chunk_point_id(change.doc_id, chunk.key) for chunk in chunks]
        record = replace(
            base,
            status=DocStatus.INDEXED,
            title=parsed.title,
            version=version,
            content_hash=digest,
            chunk_ids=ids,
            size_bytes=state.size,
            mtime_ns=state.mtime_ns,
            parser=parsed.parser or None,
            ocr_pages=parsed.ocr_pages,
            notes=list(parsed.notes),
        )
        to_embed = {}
        for target in targets:
            stored = self._store.existing_chunk_ids(ids, target.collection)
            to_embed[target.collection] = [i for i, point_id in enumerate(ids) if point_id not in stored]
        return _Plan(change, previous, record, chunks, ids, to_embed)

    @staticmethod
    def _not_indexed(
        change: Change,
        previous: DocumentRecord | None,
        base: DocumentRecord,
        status: DocStatus,
        reason: str,
        digest: str | None,
        state: FileState | None,
    ) -> _Plan:
        record = replace(
            base,
            status=status,
            reason=reason,
            content_hash=digest,
            size_bytes=state.size if state else None,
            mtime_ns=state.mtime_ns if state else None,
        )
        log.info("%s %s: %s", status.value, change.uri, reason)
        return _Plan(change, previous, record, outcome=status.value)

    def _commit(self, plan: _Plan, collections: list[str], vectors: dict[str, np.ndarray]) -> Outcome:
        change, record = plan.change, plan.record
        if plan.outcome == "stale":
            return self._done(plan, Outcome(change.doc_id, "stale"))
        if plan.outcome == "unchanged":
            self._delete(collections, _stored_ids(record) - set(record.chunk_ids))
            record.pending_chunk_ids = []
            self._store.put_record(record)
            return self._done(plan, Outcome(change.doc_id, "unchanged", reused=record.chunk_count))
        if plan.outcome != "indexed":
            # deleted, skipped or failed: nothing of the document may stay searchable.
            self._delete(collections, _stored_ids(plan.previous))
            if plan.outcome != "deleted" or plan.previous is not None:
                self._store.put_record(record)  # a tombstone keeps versions monotonic after a delete
            return self._done(plan, Outcome(change.doc_id, plan.outcome, reason=record.reason))
        points = {
            collection: [
                ChunkPoint(
                    id=plan.ids[index],
                    vector=vectors[collection][row],
                    payload=self._payload(plan, index),
                    sparse=chunk_terms(record.title, plan.chunks[index].heading, plan.chunks[index].text),
                )
                for row, index in enumerate(plan.to_embed[collection])
            ]
            for collection in collections
        }
        writing = sorted({point.id for batch in points.values() for point in batch})
        if writing:
            self._store.put_record(self._write_ahead(plan, writing))
        for collection, batch in points.items():
            self._store.upsert_chunks(batch, collection)
        self._delete(collections, _stored_ids(plan.previous) - set(plan.ids))
        self._store.put_record(record)
        embedded = len(plan.to_embed[collections[0]])
        self._metrics.chunks_embedded.inc(sum(len(batch) for batch in points.values()))
        self._metrics.chunks_reused.inc(len(plan.ids) - embedded)
        return self._done(
            plan, Outcome(change.doc_id, "indexed", embedded=embedded, reused=len(plan.ids) - embedded)
        )

    def _delete(self, collections: list[str], ids: set[str]) -> None:
        for collection in collections:
            self._store.delete_chunks(sorted(ids), collection)

    @staticmethod
    def _payload(plan: _Plan, index: int) -> dict[str, object]:
        chunk, record = plan.chunks[index], plan.record
        return {
            "doc_id": plan.change.doc_id,
            "text": chunk.text,
            "heading": list(chunk.heading),
            "title": record.title,
            "uri": record.uri,
            "root": record.root,
            "source_kind": record.source_kind.value,
            "chunk_key": chunk.key,
        }

    @staticmethod
    def _write_ahead(plan: _Plan, writing: list[str]) -> DocumentRecord:
        """The previous record (or a pending placeholder) naming the chunks about to be written, so that
        finding a document's stale chunks never needs a scan of the whole index, even after a crash."""
        if plan.previous is not None:
            pending = sorted(set(plan.previous.pending_chunk_ids) | set(writing))
            return replace(plan.previous, pending_chunk_ids=pending)
        return replace(
            plan.record,
            status=DocStatus.PENDING,
            content_hash=None,  # so the next run re-indexes instead of taking the content as done
            chunk_ids=[],
            pending_chunk_ids=writing,
            size_bytes=None,
            mtime_ns=None,
        )

    def _done(self, plan: _Plan, outcome: Outcome) -> Outcome:
        outcome = replace(outcome, ack=plan.ack)
        change, kind = plan.change, plan.change.source_kind.value
        op = Op.DELETE.value if outcome.outcome == "deleted" else Op.UPSERT.value
        self._metrics.events.labels(kind, op, outcome.outcome).inc()
        if outcome.outcome in ("skipped", "failed"):
            self._metrics.not_indexed.labels(outcome.outcome, reason_kind(outcome.reason)).inc()
        latency = None
        if outcome.outcome in ("indexed", "unchanged", "deleted"):
            now = self._clock()
            latency = max(now - change.detected_at, 0.0)
            if change.origin is Origin.BACKFILL:
                self._metrics.backfill_latency.labels(kind, op).observe(latency)
            else:
                self._metrics.update_latency.labels(kind, op).observe(latency)
            if outcome.outcome == "indexed" and plan.source_time is not None:
                since_source = now - plan.source_time
                if 0 <= since_source <= _SOURCE_TIME_HORIZON:
                    self._metrics.source_latency.labels(kind).observe(since_source)
        if self._activity is not None and outcome.outcome != "unchanged":
            self._activity.changed(change, outcome.outcome, latency, outcome.reason)
        return outcome


# A source time further back than this is not an edit being propagated but an old file copied in with its
# timestamp kept (cp -p, an unpacked archive): it says nothing about freshness and is not observed.
_SOURCE_TIME_HORIZON = 86_400.0
# CMS versions that are epoch milliseconds (2001 to 2100) are the entry's update time.
_EPOCH_MS = (1e12, 4.1e12)


def _source_time(change: Change, loaded: LoadResult) -> float | None:
    """When the source says this content was written, if it says so."""
    if not isinstance(loaded, Loaded):
        return None
    if change.source_kind in (SourceKind.FILE, SourceKind.GIT):
        return loaded.state.mtime_ns / 1e9
    if change.source_kind is SourceKind.CMS and loaded.version is not None:
        low, high = _EPOCH_MS
        return loaded.version / 1000 if low <= loaded.version <= high else None
    return None


def _stored_ids(record: DocumentRecord | None) -> set[str]:
    """Every chunk id the store may hold for the document of `record`."""
    return set(record.chunk_ids) | set(record.pending_chunk_ids) if record else set()


def _is_stale(change: Change, previous: DocumentRecord | None) -> bool:
    """True when the change carries a source version older than the one already applied."""
    return (
        change.version is not None
        and previous is not None
        and previous.source_version is not None
        and change.version < previous.source_version
    )
