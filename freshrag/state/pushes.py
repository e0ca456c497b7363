"""The push journal: the latest push of each repository, kept durably before its webhook is acknowledged,
until its clone has pulled it.

A push names no document: the worker pulls the branch into the repository's local clone and enqueues the
files that changed (see `freshrag.repositories`). What the sync needs is the clone URL and the ref; a later
push of a repository replaces an earlier one (pulling the branch once brings both). A push not yet pulled
(the remote unreachable, a crash) is sent again by the scheduled sweep. It lives beside the entry journal:
in the same SQLite file in embedded mode, in Redis in distributed mode.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import redis

from freshrag.state.sqlite_file import SqliteFile


@dataclass(frozen=True)
class RepositoryPushRecord:
    """A repository's latest push as the journal holds it; `pulled` once its clone has pulled it."""

    repository: str  # "owner/name"
    clone_url: str
    ref: str
    received_at: float
    pulled: bool = False

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, raw: str | bytes) -> RepositoryPushRecord:
        data: dict[str, Any] = json.loads(raw)
        return cls(**data)


class PushJournal(Protocol):
    def put(self, push: RepositoryPushRecord) -> bool:
        """Keep `push` as its repository's latest, not pulled yet; False (nothing stored) when a later push
        of the repository is stored already."""
        ...

    def get(self, repository: str) -> RepositoryPushRecord | None: ...

    def mark_pulled(self, repository: str, received_at: float) -> None:
        """The push received at `received_at` is pulled (nothing happens if a later push replaced it
        meanwhile: that one stays to be pulled)."""
        ...

    def unpulled(self, received_before: float) -> list[RepositoryPushRecord]:
        """The pushes received before `received_before` and not pulled yet, oldest first."""
        ...


class SqlitePushJournal:
    """The embedded mode's push journal: the table `pushes` of the entry journal's file."""

    SCHEMA = """
    CREATE TABLE IF NOT EXISTS pushes (
        repository TEXT PRIMARY KEY, received_at REAL NOT NULL, pulled INTEGER NOT NULL, push TEXT NOT NULL);
    """

    def __init__(self, file: SqliteFile) -> None:
        self._file = file
        with file.connection() as db:
            db.executescript(self.SCHEMA)

    def put(self, push: RepositoryPushRecord) -> bool:
        with self._file.transaction() as db:
            stored = db.execute(
                "INSERT INTO pushes VALUES (?, ?, 0, ?) ON CONFLICT (repository) DO UPDATE SET"
                " received_at = excluded.received_at, pulled = 0, push = excluded.push"
                " WHERE excluded.received_at >= pushes.received_at",
                (push.repository, push.received_at, push.to_json()),
            )
            return stored.rowcount == 1

    def get(self, repository: str) -> RepositoryPushRecord | None:
        with self._file.transaction() as db:
            row = db.execute("SELECT push, pulled FROM pushes WHERE repository = ?", (repository,)).fetchone()
        if row is None:
            return None
        return _with_pulled(RepositoryPushRecord.from_json(row[0]), bool(row[1]))

    def mark_pulled(self, repository: str, received_at: float) -> None:
        with self._file.transaction() as db:
            db.execute(
                "UPDATE pushes SET pulled = 1 WHERE repository = ? AND received_at = ? AND pulled = 0",
                (repository, received_at),
            )

    def unpulled(self, received_before: float) -> list[RepositoryPushRecord]:
        with self._file.transaction() as db:
            rows = db.execute(
                "SELECT push FROM pushes WHERE pulled = 0 AND received_at < ? ORDER BY received_at",
                (received_before,),
            ).fetchall()
        return [RepositoryPushRecord.from_json(row[0]) for row in rows]


class RedisPushJournal:
    """The distributed mode's push journal: the hash `freshrag:pushes` (repository to its latest push) and the
    sorted set `freshrag:pushes:unpulled` (by receipt time)."""

    PUSHES = "freshrag:pushes"
    UNPULLED = "freshrag:pushes:unpulled"

    def __init__(self, client: redis.Redis) -> None:
        self._client = client
        # Store unless a later push is stored already, in one step.
        self._put = client.register_script(
            "local held = redis.call('HGET', KEYS[1], ARGV[1]) "
            "if held and cjson.decode(held)['received_at'] > tonumber(ARGV[2]) then return 0 end "
            "redis.call('HSET', KEYS[1], ARGV[1], ARGV[3]) "
            "redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1]) "
            "return 1"
        )
        # Only the push received at that time: a push that replaced it meanwhile stays to be pulled.
        self._mark_pulled = client.register_script(
            "local t = redis.call('ZSCORE', KEYS[1], ARGV[1]) "
            "if t and tonumber(t) == tonumber(ARGV[2]) then redis.call('ZREM', KEYS[1], ARGV[1]) end"
        )

    def put(self, push: RepositoryPushRecord) -> bool:
        keys = [self.PUSHES, self.UNPULLED]
        return bool(self._put(keys=keys, args=[push.repository, repr(push.received_at), push.to_json()]))

    def get(self, repository: str) -> RepositoryPushRecord | None:
        raw = self._client.hget(self.PUSHES, repository)
        if raw is None:
            return None
        pulled = self._client.zscore(self.UNPULLED, repository) is None
        return _with_pulled(RepositoryPushRecord.from_json(raw), pulled)

    def mark_pulled(self, repository: str, received_at: float) -> None:
        self._mark_pulled(keys=[self.UNPULLED], args=[repository, repr(received_at)])

    def unpulled(self, received_before: float) -> list[RepositoryPushRecord]:
        names = self._client.zrangebyscore(self.UNPULLED, "-inf", f"({received_before}")
        pushes = []
        for name in names:
            raw = self._client.hget(self.PUSHES, name.decode() if isinstance(name, bytes) else str(name))
            if raw is not None:
                pushes.append(RepositoryPushRecord.from_json(raw))
        return pushes


def _with_pulled(push: RepositoryPushRecord, pulled: bool) -> RepositoryPushRecord:
    return RepositoryPushRecord(push.repository, push.clone_url, push.ref, push.received_at, pulled)
