"""The entry journal: the latest state of every CMS entry, kept durably before a webhook is acknowledged.

Workers index an entry's documents from here, never from the event that announced them, so events that
arrive twice, late or out of order all end in the same index. The journal refuses an event older than the
entry's stored version (monotonic), remembers which documents each entry produced (so an unpublish removes
all its locales) and which stored states are not yet applied: after a crash those are enqueued again.
Embedded mode keeps it in SQLite under the data dir; distributed mode in Redis, beside the queue.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Protocol

import redis

from freshrag.state.pushes import PushJournal, RedisPushJournal, SqlitePushJournal
from freshrag.state.sqlite_file import SqliteFile


@dataclass(frozen=True)
class EntryDoc:
    """One searchable document made from an entry (one per locale where the entry has several). `body` is
    Markdown; when the payload does not carry the text, `fetch_url` says where the worker reads it.
    `fields` are the entry's own fields where a later partial update merges into them (Directus)."""

    doc_id: str
    title: str
    body: str
    uri: str = ""
    fetch_url: str | None = None
    fields: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class EntryEvent:
    """The new state of one entry. No `docs` means the entry is gone from search (deleted, unpublished,
    trashed or archived, or a draft: `withheld` then keeps its fields), and it is ordered as a removal.
    `version` orders events of one entry (milliseconds of the entry's own update time, or its revision):
    an older version never overwrites a newer one. `versioned` is False when the platform gave no such
    version and `version` is the time the event was sent or received instead: on another clock than the
    entry's, so a removal so stamped takes the entry's stored version (and wins that tie). `partial`
    events carry only the fields that changed: merged into the stored fields (or, for a state stored
    without them, a title or text they lack is the stored one), and, unless `says_published`, an entry
    known to be unpublished stays so. `entry_id` is the platform's id of the entry. `withheld` are the
    documents of an entry that is not published (a draft, archived): never searchable, but kept, so that a
    later partial update which publishes the entry has its fields. `merged` entries are those of a
    platform that sends only what changed (their fields are kept): their events are stored one at a time."""

    entry_key: str
    source: str
    content_type: str
    version: int
    docs: tuple[EntryDoc, ...] = ()
    versioned: bool = True
    partial: bool = False
    says_published: bool = True
    entry_id: str = ""
    withheld: tuple[EntryDoc, ...] = ()
    merged: bool = False

    @property
    def deleted(self) -> bool:
        return not self.docs


@dataclass(frozen=True)
class StoredDoc:
    """A document's latest state as the journal holds it; `present` is False once its entry is gone."""

    doc_id: str
    entry_key: str
    source: str
    content_type: str
    version: int
    present: bool
    title: str
    body: str
    uri: str
    fetch_url: str | None
    received_at: float
    applied: bool = False
    fields: dict[str, Any] | None = None  # the entry's fields, for a partial update to merge into

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, raw: str | bytes) -> StoredDoc:
        data: dict[str, Any] = json.loads(raw)
        return cls(**data)


@dataclass(frozen=True)
class EntryState:
    version: int
    deleted: bool
    doc_ids: tuple[str, ...]


def settled(current: EntryState | None, event: EntryEvent) -> EntryEvent:
    """`event` with the version it is stored under: a removal the platform did not version takes the
    entry's stored one, so neither a clock ahead of ours nor a sequence number meeting a time keeps a
    removed entry alive, nor blocks the entry's next version. A draft (an event with only `withheld`
    documents) is such a removal."""
    if event.deleted and not event.versioned:  # of an entry never seen: the lowest, so any version follows it
        return replace(event, version=current.version if current is not None else 0)
    return event


def plan_put(current: EntryState | None, event: EntryEvent, received_at: float) -> list[StoredDoc] | None:
    """The documents `event` writes: its own, plus a removal for each document the entry had before and no
    longer has. None when the event is older than the stored state (equal versions: a removal wins)."""
    if current is not None and (
        event.version < current.version
        or (event.version == current.version and current.deleted and not event.deleted)
    ):
        return None
    writes = [
        StoredDoc(
            doc.doc_id,
            event.entry_key,
            event.source,
            event.content_type,
            event.version,
            present,
            doc.title,
            doc.body,
            doc.uri,
            doc.fetch_url,
            received_at,
            fields=dict(doc.fields) if doc.fields is not None else None,
        )
        for docs, present in ((event.docs, True), (event.withheld, False))
        for doc in docs
    ]
    kept = {doc.doc_id for doc in writes}
    for gone in current.doc_ids if current else ():
        if gone not in kept:
            writes.append(
                StoredDoc(gone, event.entry_key, event.source, event.content_type, event.version, False,
                          "", "", "", None, received_at)
            )  # fmt: skip
    return writes


def _merged_ids(current: EntryState | None, writes: list[StoredDoc]) -> tuple[str, ...]:
    known = set(current.doc_ids) if current else set()
    return tuple(sorted(known | {doc.doc_id for doc in writes}))


class EntryJournal(Protocol):
    # The repository pushes, a journal of their own in the same storage (see `freshrag.state.pushes`).
    pushes: PushJournal

    def put(self, events: Sequence[EntryEvent], received_at: float) -> list[list[StoredDoc] | None]:
        """Store `events` durably, at once; for each, the documents to index, or None when it is stale."""
        ...

    def get(self, doc_id: str) -> StoredDoc | None: ...

    def mark_applied(self, doc_id: str, received_at: float) -> None:
        """The document's state received at `received_at` is in the index (nothing happens if a later
        state replaced it meanwhile: that one stays to be applied)."""
        ...

    def unapplied(self, received_before: float) -> list[StoredDoc]: ...

    def first_delivery(self, source: str, delivery_id: str, ttl_seconds: float) -> bool:
        """Remember `delivery_id` for `ttl_seconds`; False when it was already remembered (a replay)."""
        ...

    def seen(self, source: str, delivery_id: str) -> bool: ...


class SqliteEntryJournal:
    """The embedded mode's journal, `<data_dir>/webhooks.sqlite3` (WAL, synchronous=FULL: a commit is on
    disk before the webhook is answered)."""

    def __init__(self, path: Path) -> None:
        self._purged_at = 0.0
        self._file = SqliteFile(
            path,
            synchronous="FULL",
            schema="""
            CREATE TABLE IF NOT EXISTS entries (
                entry_key TEXT PRIMARY KEY, version INTEGER NOT NULL, deleted INTEGER NOT NULL,
                doc_ids TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS docs (
                doc_id TEXT PRIMARY KEY, received_at REAL NOT NULL, applied INTEGER NOT NULL,
                doc TEXT NOT NULL);
            CREATE INDEX IF NOT EXISTS docs_unapplied ON docs (applied, received_at);
            CREATE TABLE IF NOT EXISTS deliveries (
                source TEXT NOT NULL, delivery_id TEXT NOT NULL, expires_at REAL NOT NULL,
                PRIMARY KEY (source, delivery_id));
            CREATE INDEX IF NOT EXISTS deliveries_expiry ON deliveries (expires_at);
            """,
        )
        self.pushes: PushJournal = SqlitePushJournal(self._file)

    def put(self, events: Sequence[EntryEvent], received_at: float) -> list[list[StoredDoc] | None]:
        # One transaction, one fsync, however many entries a delivery names.
        with self._file.transaction() as db:
            return [self._put(db, event, received_at) for event in events]

    @staticmethod
    def _put(db: sqlite3.Connection, event: EntryEvent, received_at: float) -> list[StoredDoc] | None:
        row = db.execute(
            "SELECT version, deleted, doc_ids FROM entries WHERE entry_key = ?", (event.entry_key,)
        ).fetchone()
        current = EntryState(row[0], bool(row[1]), tuple(json.loads(row[2]))) if row else None
        event = settled(current, event)
        writes = plan_put(current, event, received_at)
        if writes is None:
            return None
        db.execute(
            "INSERT OR REPLACE INTO entries VALUES (?, ?, ?, ?)",
            (
                event.entry_key,
                event.version,
                int(event.deleted),
                json.dumps(_merged_ids(current, writes)),
            ),
        )
        db.executemany(
            "INSERT OR REPLACE INTO docs VALUES (?, ?, 0, ?)",
            [(doc.doc_id, doc.received_at, doc.to_json()) for doc in writes],
        )
        return writes

    def get(self, doc_id: str) -> StoredDoc | None:
        with self._file.transaction() as db:
            row = db.execute("SELECT doc, applied FROM docs WHERE doc_id = ?", (doc_id,)).fetchone()
        if row is None:
            return None
        doc = StoredDoc.from_json(row[0])
        return StoredDoc(**{**asdict(doc), "applied": bool(row[1])})

    def mark_applied(self, doc_id: str, received_at: float) -> None:
        with self._file.transaction() as db:
            db.execute(
                "UPDATE docs SET applied = 1 WHERE doc_id = ? AND received_at = ? AND applied = 0",
                (doc_id, received_at),
            )

    def unapplied(self, received_before: float) -> list[StoredDoc]:
        with self._file.transaction() as db:
            rows = db.execute(
                "SELECT doc FROM docs WHERE applied = 0 AND received_at < ? ORDER BY received_at",
                (received_before,),
            ).fetchall()
        return [StoredDoc.from_json(row[0]) for row in rows]

    def first_delivery(self, source: str, delivery_id: str, ttl_seconds: float) -> bool:
        now = time.time()
        with self._file.transaction(durable=False) as db:
            if now - self._purged_at > 60:
                db.execute("DELETE FROM deliveries WHERE expires_at < ?", (now,))
                self._purged_at = now
            inserted = db.execute(
                "INSERT OR IGNORE INTO deliveries VALUES (?, ?, ?)", (source, delivery_id, now + ttl_seconds)
            )
            return inserted.rowcount == 1

    def seen(self, source: str, delivery_id: str) -> bool:
        with self._file.transaction() as db:
            row = db.execute(
                "SELECT 1 FROM deliveries WHERE source = ? AND delivery_id = ? AND expires_at >= ?",
                (source, delivery_id, time.time()),
            ).fetchone()
        return row is not None


class RedisEntryJournal:
    """The distributed mode's journal in Redis: `freshrag:entry:<key>` (version, deletion, documents),
    `freshrag:doc:<doc_id>` (the state), the sorted set `freshrag:docs:unapplied` (by receipt time) and
    `freshrag:delivery:<source>:<id>` (replay protection, expiring)."""

    UNAPPLIED = "freshrag:docs:unapplied"

    def __init__(self, client: redis.Redis) -> None:
        self._client = client
        self.pushes: PushJournal = RedisPushJournal(client)
        # Only the state received at that time: a state that replaced it meanwhile stays to be applied.
        self._mark_applied = client.register_script(
            "local t = redis.call('ZSCORE', KEYS[1], ARGV[1]) "
            "if t and tonumber(t) == tonumber(ARGV[2]) then redis.call('ZREM', KEYS[1], ARGV[1]) end"
        )

    def put(self, events: Sequence[EntryEvent], received_at: float) -> list[list[StoredDoc] | None]:
        return [self._put(event, received_at) for event in events]

    def _put(self, event: EntryEvent, received_at: float) -> list[StoredDoc] | None:
        entry_key = f"freshrag:entry:{event.entry_key}"
        with self._client.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(entry_key)  # type: ignore[no-untyped-call]
                    raw = pipe.get(entry_key)
                    current = None
                    if raw is not None:
                        data = json.loads(raw)
                        current = EntryState(data["version"], data["deleted"], tuple(data["doc_ids"]))
                    event = settled(current, event)
                    writes = plan_put(current, event, received_at)
                    if writes is None:
                        pipe.unwatch()
                        return None
                    state = {
                        "version": event.version,
                        "deleted": event.deleted,
                        "doc_ids": list(_merged_ids(current, writes)),
                    }
                    pipe.multi()
                    pipe.set(entry_key, json.dumps(state))
                    for doc in writes:
                        pipe.set(f"freshrag:doc:{doc.doc_id}", doc.to_json())
                        pipe.zadd(self.UNAPPLIED, {doc.doc_id: doc.received_at})
                    pipe.execute()
                    return writes
                except redis.WatchError:
                    continue

    def get(self, doc_id: str) -> StoredDoc | None:
        raw = self._client.get(f"freshrag:doc:{doc_id}")
        if raw is None:
            return None
        doc = StoredDoc.from_json(raw)
        unapplied = self._client.zscore(self.UNAPPLIED, doc_id) is not None
        return StoredDoc(**{**asdict(doc), "applied": not unapplied})

    def mark_applied(self, doc_id: str, received_at: float) -> None:
        self._mark_applied(keys=[self.UNAPPLIED], args=[doc_id, repr(received_at)])

    def unapplied(self, received_before: float) -> list[StoredDoc]:
        ids = self._client.zrangebyscore(self.UNAPPLIED, "-inf", f"({received_before}")
        docs = []
        for doc_id in ids:
            name = doc_id.decode() if isinstance(doc_id, bytes) else str(doc_id)
            raw = self._client.get(f"freshrag:doc:{name}")
            if raw is not None:
                docs.append(StoredDoc.from_json(raw))
        return docs

    def first_delivery(self, source: str, delivery_id: str, ttl_seconds: float) -> bool:
        key = f"freshrag:delivery:{source}:{delivery_id}"
        return bool(self._client.set(key, "1", nx=True, px=max(int(ttl_seconds * 1000), 1)))

    def seen(self, source: str, delivery_id: str) -> bool:
        return bool(self._client.exists(f"freshrag:delivery:{source}:{delivery_id}"))
