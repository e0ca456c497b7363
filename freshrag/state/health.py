"""What the monitoring jobs and the status page share between processes: recent changes, recent queries,
the latest results of the scheduled checks (canary, drift, golden set) and worker heartbeats.

SQLite under the data dir when embedded (one process); Redis, the broker itself, when distributed (the API
reads what workers wrote). Logs are capped: only the newest entries are kept. Nothing here is needed for a
change to be indexed, so a write that fails is logged and dropped, never raised into the indexing path.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Protocol

import redis

from freshrag.state.sqlite_file import SqliteFile

log = logging.getLogger(__name__)

CHANGES = "changes"
QUERIES = "queries"
ANSWERS = "answers"
LOGS = (CHANGES, QUERIES, ANSWERS)


class HealthState(Protocol):
    def append(self, log_name: str, entry: dict[str, Any]) -> None:
        """Add `entry` to the log (`changes`, `queries` or `answers`), dropping the oldest beyond its cap."""
        ...

    def extend(self, log_name: str, entries: list[dict[str, Any]]) -> None:
        """Add `entries`, oldest first, in one write."""
        ...

    def tail(self, log_name: str, limit: int) -> list[dict[str, Any]]:
        """The newest `limit` entries of the log, newest first."""
        ...

    def put(self, key: str, value: dict[str, Any]) -> None: ...

    def get(self, key: str) -> dict[str, Any] | None: ...

    def add(self, counter: str, amount: int) -> int:
        """Add `amount` to the named counter (0 until first added to), atomically; its new value."""
        ...

    def counter(self, counter: str) -> int: ...

    def heartbeat(self, worker: str, at: float) -> None: ...

    def alive(self, since: float) -> list[str]:
        """Workers whose last heartbeat is at or after `since`."""
        ...


class SqliteHealthState:
    """The embedded mode's state, `<data_dir>/health.sqlite3` (WAL, no fsync per write: losing the last
    moments of monitoring history in a power cut is acceptable; losing indexing speed is not)."""

    def __init__(self, path: Path, caps: dict[str, int]) -> None:
        self._caps = caps
        self._file = SqliteFile(
            path,
            synchronous="NORMAL",
            schema="""
            CREATE TABLE IF NOT EXISTS logs (id INTEGER PRIMARY KEY, log TEXT NOT NULL, body TEXT NOT NULL);
            CREATE INDEX IF NOT EXISTS logs_by_name ON logs (log, id);
            CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, body TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
            CREATE TABLE IF NOT EXISTS heartbeats (worker TEXT PRIMARY KEY, at REAL NOT NULL);
            """,
        )
        self._appended = dict.fromkeys(LOGS, 0)

    def append(self, log_name: str, entry: dict[str, Any]) -> None:
        self.extend(log_name, [entry])

    def extend(self, log_name: str, entries: list[dict[str, Any]]) -> None:
        name = _checked(log_name)
        if not entries:
            return
        rows = [(name, json.dumps(entry)) for entry in entries]
        with self._file.connection() as db:
            db.execute("BEGIN")
            try:
                db.executemany("INSERT INTO logs (log, body) VALUES (?, ?)", rows)
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
            trim_before = self._appended[name] // 64
            self._appended[name] += len(rows)
            if self._appended[name] // 64 != trim_before:  # trim now and then, not on every write
                db.execute(
                    "DELETE FROM logs WHERE log = ? AND id <= (SELECT id FROM logs WHERE log = ? "
                    "ORDER BY id DESC LIMIT 1 OFFSET ?)",
                    (name, name, self._caps[name]),
                )

    def tail(self, log_name: str, limit: int) -> list[dict[str, Any]]:
        name = _checked(log_name)
        with self._file.connection() as db:
            rows = db.execute(
                "SELECT body FROM logs WHERE log = ? ORDER BY id DESC LIMIT ?", (name, limit)
            ).fetchall()
        return [json.loads(body) for (body,) in rows]

    def put(self, key: str, value: dict[str, Any]) -> None:
        with self._file.connection() as db:
            db.execute("INSERT OR REPLACE INTO kv (key, body) VALUES (?, ?)", (key, json.dumps(value)))

    def get(self, key: str) -> dict[str, Any] | None:
        with self._file.connection() as db:
            row = db.execute("SELECT body FROM kv WHERE key = ?", (key,)).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def add(self, counter: str, amount: int) -> int:
        with self._file.connection() as db:
            db.execute(
                "INSERT INTO counters (name, value) VALUES (?, ?) "
                "ON CONFLICT (name) DO UPDATE SET value = value + excluded.value",
                (counter, amount),
            )
            row = db.execute("SELECT value FROM counters WHERE name = ?", (counter,)).fetchone()
        return int(row[0])

    def counter(self, counter: str) -> int:
        with self._file.connection() as db:
            row = db.execute("SELECT value FROM counters WHERE name = ?", (counter,)).fetchone()
        return 0 if row is None else int(row[0])

    def heartbeat(self, worker: str, at: float) -> None:
        with self._file.connection() as db:
            db.execute("INSERT OR REPLACE INTO heartbeats (worker, at) VALUES (?, ?)", (worker, at))

    def alive(self, since: float) -> list[str]:
        with self._file.connection() as db:
            rows = db.execute("SELECT worker FROM heartbeats WHERE at >= ?", (since,)).fetchall()
        return sorted(worker for (worker,) in rows)

    def close(self) -> None:
        self._file.close()


class RedisHealthState:
    """The distributed mode's state: capped lists `freshrag:health:<log>`, the hash `freshrag:health:kv`
    (JSON values), the hash `freshrag:health:counters` and the hash `freshrag:health:heartbeats` (worker
    name to unix time)."""

    PREFIX = "freshrag:health:"

    def __init__(self, client: redis.Redis, caps: dict[str, int]) -> None:
        self._client = client
        self._caps = caps

    def append(self, log_name: str, entry: dict[str, Any]) -> None:
        self.extend(log_name, [entry])

    def extend(self, log_name: str, entries: list[dict[str, Any]]) -> None:
        key = self.PREFIX + _checked(log_name)
        if not entries:
            return
        pipe = self._client.pipeline(transaction=False)
        pipe.lpush(key, *(json.dumps(entry) for entry in entries))
        pipe.ltrim(key, 0, self._caps[log_name] - 1)
        pipe.execute()

    def tail(self, log_name: str, limit: int) -> list[dict[str, Any]]:
        rows = self._client.lrange(self.PREFIX + _checked(log_name), 0, limit - 1)
        return [json.loads(row) for row in rows]

    def put(self, key: str, value: dict[str, Any]) -> None:
        self._client.hset(self.PREFIX + "kv", key, json.dumps(value))

    def get(self, key: str) -> dict[str, Any] | None:
        raw = self._client.hget(self.PREFIX + "kv", key)
        return None if raw is None else dict(json.loads(raw))

    def add(self, counter: str, amount: int) -> int:
        return int(self._client.hincrby(self.PREFIX + "counters", counter, amount))

    def counter(self, counter: str) -> int:
        raw = self._client.hget(self.PREFIX + "counters", counter)
        return 0 if raw is None else int(raw)

    def heartbeat(self, worker: str, at: float) -> None:
        self._client.hset(self.PREFIX + "heartbeats", worker, repr(at))

    def alive(self, since: float) -> list[str]:
        beats = self._client.hgetall(self.PREFIX + "heartbeats")
        return sorted(_text(worker) for worker, at in beats.items() if float(at) >= since)

    def close(self) -> None:
        """The client belongs to the coordination of the process; nothing to release here."""


def _checked(log_name: str) -> str:
    if log_name not in LOGS:
        raise ValueError(f"no log {log_name!r}; logs: {LOGS}")
    return log_name


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
