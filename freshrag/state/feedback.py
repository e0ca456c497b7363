"""User feedback: which document a user found relevant (or not) for a query, the training signal of the
fine-tune job.

An append-only log: every feedback gets the next sequence number (1, 2, 3, ...), so the trainer reads what
is new since its last run with `entries(after_seq=...)`. Entries are never trimmed: they are the training
set. One entry takes about 200 bytes for a typical query and document id (a million feedbacks: about
200 MB); the limits below bound the largest at about 25 KB.

Embedded mode keeps the log in SQLite, `<data_dir>/feedback.sqlite3`; distributed mode in the Redis list
`freshrag:feedback`, which every API process appends to.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import redis

from freshrag.state.sqlite_file import SqliteFile

MAX_QUERY_CHARS = 4096
MAX_DOC_ID_CHARS = 2048
PAGE = 1000  # entries read per round trip

# What a log raises when it cannot read or write right now (the caller answers 503 and tries again).
STORAGE_ERRORS: tuple[type[Exception], ...] = (sqlite3.Error, redis.RedisError)


@dataclass(frozen=True)
class Feedback:
    """One judgement: `doc_id` was (`relevant`) or was not a good answer to `query`, given at `at` (unix
    time). `seq` is the entry's position in the log, from 1; 0 until the log assigns it."""

    query: str
    doc_id: str
    relevant: bool
    at: float
    seq: int = 0

    def to_json(self) -> str:
        """The stored form; `seq` is not in it: the log keeps it as the entry's position."""
        body = {"query": self.query, "doc_id": self.doc_id, "relevant": self.relevant, "at": self.at}
        return json.dumps(body, ensure_ascii=False)

    @classmethod
    def from_json(cls, raw: str | bytes, seq: int = 0) -> Feedback:
        data: dict[str, Any] = json.loads(raw)
        return cls(str(data["query"]), str(data["doc_id"]), bool(data["relevant"]), float(data["at"]), seq)


def checked_feedback(query: str, doc_id: str) -> tuple[str, str]:
    """The query stripped and the document id as given, or `ValueError` naming the field: a query is 1 to
    4096 characters once stripped, a document id 1 to 2048 characters, both valid Unicode."""
    query = query.strip()
    if not query:
        raise ValueError("query is empty")
    if len(query) > MAX_QUERY_CHARS:
        raise ValueError(f"query is {len(query):,} characters long; at most {MAX_QUERY_CHARS:,}")
    if not doc_id:
        raise ValueError("doc_id is empty")
    if len(doc_id) > MAX_DOC_ID_CHARS:
        raise ValueError(f"doc_id is {len(doc_id):,} characters long; at most {MAX_DOC_ID_CHARS:,}")
    for field, value in (("query", query), ("doc_id", doc_id)):
        try:
            value.encode()
        except UnicodeEncodeError:  # a lone surrogate, which JSON's "\ud800" can carry
            raise ValueError(f"{field} is not valid Unicode (it has a lone surrogate)") from None
    return query, doc_id


class FeedbackLog(Protocol):
    def add(self, query: str, doc_id: str, relevant: bool, at: float) -> Feedback:
        """Append one feedback (`ValueError` from `checked_feedback` when a field is invalid); it is
        durable when this returns, and the answer carries its `seq`."""
        ...

    def count(self) -> int:
        """How many feedbacks were ever added: the last `seq`."""
        ...

    def entries(self, after_seq: int = 0) -> Iterator[Feedback]:
        """Every feedback with a `seq` above `after_seq`, oldest first (read in pages as iterated)."""
        ...

    def latest(self, limit: int) -> list[Feedback]:
        """The newest `limit` feedbacks, newest first."""
        ...


class SqliteFeedbackLog:
    """The embedded mode's log, `<data_dir>/feedback.sqlite3` (WAL, synchronous=FULL: feedback is user
    input, so an acknowledged one is on disk and survives a power cut)."""

    def __init__(self, path: Path) -> None:
        self._file = SqliteFile(
            path,
            synchronous="FULL",
            schema="CREATE TABLE IF NOT EXISTS feedback (seq INTEGER PRIMARY KEY AUTOINCREMENT, "
            "query TEXT NOT NULL, doc_id TEXT NOT NULL, relevant INTEGER NOT NULL, at REAL NOT NULL)",
        )

    def add(self, query: str, doc_id: str, relevant: bool, at: float) -> Feedback:
        query, doc_id = checked_feedback(query, doc_id)
        with self._file.connection() as db:
            cursor = db.execute(
                "INSERT INTO feedback (query, doc_id, relevant, at) VALUES (?, ?, ?, ?)",
                (query, doc_id, int(relevant), at),
            )
        assert cursor.lastrowid is not None
        return Feedback(query, doc_id, relevant, at, cursor.lastrowid)

    def count(self) -> int:
        with self._file.connection() as db:
            row = db.execute("SELECT coalesce(max(seq), 0) FROM feedback").fetchone()
        return int(row[0])

    def entries(self, after_seq: int = 0) -> Iterator[Feedback]:
        while True:
            # One page at a time: writers wait for a page, not for the whole read.
            with self._file.connection() as db:
                cursor = db.execute(
                    "SELECT query, doc_id, relevant, at, seq FROM feedback WHERE seq > ? ORDER BY seq "
                    "LIMIT ?",
                    (after_seq, PAGE),
                )
                rows = cursor.fetchall()
            yield from (_from_row(row) for row in rows)
            if len(rows) < PAGE:
                return
            after_seq = rows[-1][4]

    def latest(self, limit: int) -> list[Feedback]:
        with self._file.connection() as db:
            cursor = db.execute(
                "SELECT query, doc_id, relevant, at, seq FROM feedback ORDER BY seq DESC LIMIT ?",
                (max(limit, 0),),
            )
            rows = cursor.fetchall()
        return [_from_row(row) for row in rows]

    def close(self) -> None:
        self._file.close()


def _from_row(row: tuple[str, str, int, float, int]) -> Feedback:
    query, doc_id, relevant, at, seq = row
    return Feedback(query, doc_id, bool(relevant), at, seq)


class RedisFeedbackLog:
    """The distributed mode's log, the Redis list `freshrag:feedback` (one JSON entry per feedback, the
    `seq` being the position in the list from 1: RPUSH answers the new length).

    Durability is the broker's: Redis persistence must be on, append-only (AOF) recommended.
    docker-compose.yml runs Redis with `--appendonly yes --appendfsync everysec`, so an acknowledged
    feedback survives a restart or crash of Redis, and a power cut of its host loses at most about the last
    second of them (`appendfsync always` loses none, at the cost of an fsync per write)."""

    KEY = "freshrag:feedback"

    def __init__(self, client: redis.Redis) -> None:
        self._client = client

    def add(self, query: str, doc_id: str, relevant: bool, at: float) -> Feedback:
        query, doc_id = checked_feedback(query, doc_id)
        feedback = Feedback(query, doc_id, relevant, at)
        seq = int(self._client.rpush(self.KEY, feedback.to_json()))
        return Feedback(query, doc_id, relevant, at, seq)

    def count(self) -> int:
        return int(self._client.llen(self.KEY))

    def entries(self, after_seq: int = 0) -> Iterator[Feedback]:
        start = max(after_seq, 0)  # the list index of the entry with seq `after_seq + 1`
        while True:
            rows = self._client.lrange(self.KEY, start, start + PAGE - 1)
            yield from (Feedback.from_json(raw, start + offset + 1) for offset, raw in enumerate(rows))
            if len(rows) < PAGE:
                return
            start += len(rows)

    def latest(self, limit: int) -> list[Feedback]:
        if limit < 1:
            return []  # LRANGE -0 -1 would be the whole list
        pipe = self._client.pipeline(transaction=True)  # length and tail of one same list
        pipe.llen(self.KEY)
        pipe.lrange(self.KEY, -limit, -1)
        length, rows = pipe.execute()
        first = int(length) - len(rows) + 1
        return [Feedback.from_json(raw, first + offset) for offset, raw in enumerate(rows)][::-1]
