"""The model registry: every model that served or tried to serve, and where writes go during a switch.

One entry per model version: the packaged base model, each fine-tune run (live, candidate, rejected,
retired, failed) and each OpenAI fine-tuning job. Which embedding model is live is decided by the Qdrant alias
(see `freshrag.store`); an entry's `status` follows the alias at every swap, and `collection` ties the two.

Besides the runs, the registry holds the list of collections that every change must also be written to while
a blue/green switch is under way (`write_also`), and a few cursors (the last feedback a run trained on).

SQLite (`<data_dir>/models.sqlite3`, synchronous writes) when embedded; Redis when distributed
(`freshrag:models:runs` hash, `freshrag:models:kv` hash). Unlike the health state, a failed write here raises:
the registry is part of serving, not of monitoring.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

import redis

from freshrag.state.sqlite_file import SqliteFile

WRITE_ALSO = "write_also"
FEEDBACK_TRAINED = "feedback_trained_through"
METRIC_NAMES = ("ndcg_at_10", "recall_at_10", "mrr_at_10")


class RunStatus(StrEnum):
    LIVE = "live"  # serving searches (local backend), or the newest finished OpenAI job
    CANDIDATE = "candidate"  # being trained, re-embedded or evaluated; an OpenAI job still running
    REJECTED = "rejected"  # the gate said no (or an OpenAI job was cancelled)
    RETIRED = "retired"  # was live; its collection may be kept for an instant rollback
    FAILED = "failed"  # the run stopped on an error (`reason` says which)


class Backend(StrEnum):
    BASE = "base"  # the configured model, before any fine-tune
    LOCAL = "local"
    OPENAI = "openai"


@dataclass
class ModelRun:
    """One model version and how it came to be. Times are unix seconds."""

    version: str
    backend: Backend
    status: RunStatus
    created_at: float
    base_model: str
    parent: str | None = None  # the version it was trained from
    path: str | None = None  # the sentence-transformers folder (local backend, base)
    collection: str | None = None  # its chunk collection, while it exists
    metrics: dict[str, float] | None = None  # on the golden set, against its own collection
    baseline_metrics: dict[str, float] | None = None  # the live model's, measured beside it
    pairs: int = 0
    pair_sources: dict[str, int] = field(default_factory=dict)
    duration_s: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)  # training, export, re-embed, evaluation
    loss: float | None = None
    trigger: str = ""
    reason: str | None = None  # why it was rejected or failed
    stage: str = ""  # what a candidate is doing now
    progress: dict[str, Any] = field(default_factory=dict)  # {stage, done, total}
    promoted_at: float | None = None
    retired_at: float | None = None
    job: dict[str, Any] | None = None  # OpenAI: the job's state
    fine_tuned_model: str | None = None  # OpenAI: the model id to answer with

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ModelRun:
        known = {f.name for f in fields(cls)}
        values = {key: value for key, value in data.items() if key in known}
        values["backend"] = Backend(values["backend"])
        values["status"] = RunStatus(values["status"])
        return cls(**values)


class RegistryStore(Protocol):
    def put_run(self, run: ModelRun) -> None: ...

    def get_run(self, version: str) -> ModelRun | None: ...

    def all_runs(self) -> list[ModelRun]:
        """Every run, oldest first."""
        ...

    def put_value(self, key: str, value: Any) -> None: ...

    def get_value(self, key: str) -> Any: ...

    def close(self) -> None: ...


class SqliteRegistry:
    """The embedded registry. Synchronous writes: a promotion recorded survives a power cut."""

    def __init__(self, path: Path) -> None:
        self._file = SqliteFile(
            path,
            synchronous="FULL",
            schema="""
            CREATE TABLE IF NOT EXISTS runs (
                version TEXT PRIMARY KEY, created REAL NOT NULL, body TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, body TEXT NOT NULL);
            """,
        )

    def put_run(self, run: ModelRun) -> None:
        with self._file.connection() as db:
            db.execute(
                "INSERT OR REPLACE INTO runs (version, created, body) VALUES (?, ?, ?)",
                (run.version, run.created_at, json.dumps(run.to_json())),
            )

    def get_run(self, version: str) -> ModelRun | None:
        with self._file.connection() as db:
            row = db.execute("SELECT body FROM runs WHERE version = ?", (version,)).fetchone()
        return None if row is None else ModelRun.from_json(json.loads(row[0]))

    def all_runs(self) -> list[ModelRun]:
        with self._file.connection() as db:
            rows = db.execute("SELECT body FROM runs ORDER BY created, version").fetchall()
        return [ModelRun.from_json(json.loads(body)) for (body,) in rows]

    def put_value(self, key: str, value: Any) -> None:
        with self._file.connection() as db:
            db.execute("INSERT OR REPLACE INTO kv (key, body) VALUES (?, ?)", (key, json.dumps(value)))

    def get_value(self, key: str) -> Any:
        with self._file.connection() as db:
            row = db.execute("SELECT body FROM kv WHERE key = ?", (key,)).fetchone()
        return None if row is None else json.loads(row[0])

    def close(self) -> None:
        self._file.close()


class RedisRegistry:
    """The distributed registry, in the broker's Redis."""

    RUNS = "freshrag:models:runs"
    KV = "freshrag:models:kv"

    def __init__(self, client: redis.Redis) -> None:
        self._client = client

    def put_run(self, run: ModelRun) -> None:
        self._client.hset(self.RUNS, run.version, json.dumps(run.to_json()))

    def get_run(self, version: str) -> ModelRun | None:
        raw = self._client.hget(self.RUNS, version)
        return None if raw is None else ModelRun.from_json(json.loads(raw))

    def all_runs(self) -> list[ModelRun]:
        runs = [ModelRun.from_json(json.loads(raw)) for raw in self._client.hvals(self.RUNS)]
        return sorted(runs, key=lambda run: (run.created_at, run.version))

    def put_value(self, key: str, value: Any) -> None:
        self._client.hset(self.KV, key, json.dumps(value))

    def get_value(self, key: str) -> Any:
        raw = self._client.hget(self.KV, key)
        return None if raw is None else json.loads(raw)

    def close(self) -> None:
        """The client belongs to the process's coordination."""


class Registry:
    """What the rest of freshrag asks the registry; the storage is SQLite or Redis."""

    def __init__(self, store: RegistryStore) -> None:
        self._store = store

    def put(self, run: ModelRun) -> None:
        self._store.put_run(run)

    def get(self, version: str) -> ModelRun | None:
        return self._store.get_run(version)

    def runs(self) -> list[ModelRun]:
        return self._store.all_runs()

    def by_collection(self, collection: str) -> ModelRun | None:
        """The model whose chunks live in `collection` (None for an index older than the registry)."""
        return next((run for run in reversed(self.runs()) if run.collection == collection), None)

    def live(self, backend: Backend | None = None) -> ModelRun | None:
        return next(
            (
                run
                for run in reversed(self.runs())
                if run.status is RunStatus.LIVE and (backend is None or run.backend is backend)
            ),
            None,
        )

    def write_also(self) -> list[str]:
        """Collections every change must also reach (a switch under way); read before the alias."""
        return list(self._store.get_value(WRITE_ALSO) or [])

    def set_write_also(self, collections: list[str]) -> None:
        self._store.put_value(WRITE_ALSO, collections)

    def feedback_trained_through(self) -> int:
        """The sequence number of the newest feedback the last finished run trained on."""
        return int(self._store.get_value(FEEDBACK_TRAINED) or 0)

    def set_feedback_trained_through(self, seq: int) -> None:
        self._store.put_value(FEEDBACK_TRAINED, seq)

    def close(self) -> None:
        self._store.close()
