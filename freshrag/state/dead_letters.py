"""Dead letters: changes that kept failing after every retry, kept with their reason until replayed.

They live outside the index on purpose: the store being down is the commonest reason a change dies, so its
failure could not be recorded there. Embedded mode keeps them in SQLite under the data dir; distributed mode
in a Redis hash that every process sees. One letter per document: the latest failure wins.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

import redis

from freshrag.documents import Change
from freshrag.state.sqlite_file import SqliteFile


@dataclass(frozen=True)
class DeadLetter:
    change: Change
    reason: str
    attempts: int
    failed_at: float

    def to_json(self) -> str:
        return json.dumps(
            {
                "change": self.change.to_message(),
                "reason": self.reason,
                "attempts": self.attempts,
                "failed_at": self.failed_at,
            }
        )

    @classmethod
    def from_json(cls, raw: str | bytes) -> DeadLetter:
        data: dict[str, Any] = json.loads(raw)
        return cls(Change.from_message(data["change"]), data["reason"], data["attempts"], data["failed_at"])


class DeadLetters(Protocol):
    def add(self, letter: DeadLetter) -> None: ...

    def get(self, doc_id: str) -> DeadLetter | None: ...

    def discard(self, doc_id: str) -> None:
        """The document was applied after all: its letter, if any, is obsolete."""
        ...

    def remove(self, letter: DeadLetter) -> None:
        """Remove `letter` unless a newer failure of its document replaced it meanwhile."""
        ...

    def all(self) -> list[DeadLetter]: ...

    def count(self) -> int: ...


class SqliteDeadLetters:
    """Dead letters of the embedded mode, in `<data_dir>/dead-letters.sqlite3`."""

    def __init__(self, path: Path) -> None:
        schema = "CREATE TABLE IF NOT EXISTS dead_letters (doc_id TEXT PRIMARY KEY, letter TEXT NOT NULL)"
        self._file = SqliteFile(path, schema=schema, per_use=True)

    def add(self, letter: DeadLetter) -> None:
        with self._file.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO dead_letters VALUES (?, ?)", (letter.change.doc_id, letter.to_json())
            )

    def get(self, doc_id: str) -> DeadLetter | None:
        with self._file.transaction() as db:
            row = db.execute("SELECT letter FROM dead_letters WHERE doc_id = ?", (doc_id,)).fetchone()
        return DeadLetter.from_json(row[0]) if row else None

    def discard(self, doc_id: str) -> None:
        with (
            self._file.transaction() as db
        ):  # called after every applied change: read first, write only when needed
            if db.execute("SELECT 1 FROM dead_letters WHERE doc_id = ?", (doc_id,)).fetchone():
                db.execute("DELETE FROM dead_letters WHERE doc_id = ?", (doc_id,))

    def remove(self, letter: DeadLetter) -> None:
        with self._file.transaction() as db:
            db.execute(
                "DELETE FROM dead_letters WHERE doc_id = ? AND letter = ?",
                (letter.change.doc_id, letter.to_json()),
            )

    def all(self) -> list[DeadLetter]:
        with self._file.transaction() as db:
            rows = db.execute("SELECT letter FROM dead_letters").fetchall()
        return sorted((DeadLetter.from_json(row[0]) for row in rows), key=lambda letter: letter.failed_at)

    def count(self) -> int:
        with self._file.transaction() as db:
            return int(db.execute("SELECT count(*) FROM dead_letters").fetchone()[0])


class RedisDeadLetters:
    """Dead letters of the distributed mode, in the Redis hash `freshrag:dead_letters` (doc_id to letter)."""

    KEY = "freshrag:dead_letters"

    def __init__(self, client: redis.Redis) -> None:
        self._client = client
        self._remove = client.register_script(
            "if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then redis.call('HDEL', KEYS[1], ARGV[1]) end"
        )

    def add(self, letter: DeadLetter) -> None:
        self._client.hset(self.KEY, letter.change.doc_id, letter.to_json())

    def get(self, doc_id: str) -> DeadLetter | None:
        raw = self._client.hget(self.KEY, doc_id)
        return None if raw is None else DeadLetter.from_json(raw)

    def discard(self, doc_id: str) -> None:
        self._client.hdel(self.KEY, doc_id)

    def remove(self, letter: DeadLetter) -> None:
        self._remove(keys=[self.KEY], args=[letter.change.doc_id, letter.to_json()])

    def all(self) -> list[DeadLetter]:
        letters = (DeadLetter.from_json(raw) for raw in self._client.hvals(self.KEY))
        return sorted(letters, key=lambda letter: letter.failed_at)

    def count(self) -> int:
        return int(self._client.hlen(self.KEY))


def dead_letter(change: Change, exc: BaseException, attempts: int) -> DeadLetter:
    # The letter outlives the claim its last run held: a replay claims the document anew.
    return DeadLetter(replace(change, claim=None), f"{type(exc).__name__}: {exc}", attempts, time.time())
