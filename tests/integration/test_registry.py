"""The model registry: SQLite (embedded) and Redis (distributed, a real redis-server) keep the same runs,
answer the same questions about them, and keep them across a restart."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from freshrag.catalog import ModelCatalog
from freshrag.coordination import open_registry
from freshrag.embedding import SentenceTransformerEmbedder
from freshrag.settings import load_settings
from freshrag.state.registry import (
    Backend,
    ModelRun,
    RedisRegistry,
    Registry,
    RunStatus,
    SqliteRegistry,
)
from freshrag.store import open_store
from tests.redis_server import RedisServer

AT = 1_700_000_000.0


@dataclass
class Opened:
    """A registry, and how to open it again as a restarted process would (Redis itself restarted too)."""

    registry: Registry
    reopen: Callable[[], Registry]


@pytest.fixture(params=["sqlite", "redis"])
def opened(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opened]:
    if request.param == "sqlite":
        path = tmp_path / "data" / "models.sqlite3"
        registries = [Registry(SqliteRegistry(path))]

        def reopen_sqlite() -> Registry:
            registries.append(Registry(SqliteRegistry(path)))
            return registries[-1]

        yield Opened(registries[0], reopen_sqlite)
        for registry in registries:
            registry.close()
        return
    server: RedisServer = request.getfixturevalue("redis_server")

    def reopen_redis() -> Registry:
        server.stop()
        server.start()
        return Registry(RedisRegistry(server.client()))

    yield Opened(Registry(RedisRegistry(server.client())), reopen_redis)


def run(
    version: str,
    created: float,
    status: RunStatus = RunStatus.REJECTED,
    backend: Backend = Backend.LOCAL,
    collection: str | None = None,
) -> ModelRun:
    return ModelRun(
        version=version,
        backend=backend,
        status=status,
        created_at=AT + created,
        base_model="all-MiniLM-L6-v2",
        collection=collection,
    )


def full_run() -> ModelRun:
    return ModelRun(
        version="all-MiniLM-L6-v2-ft-20250101-030000",
        backend=Backend.LOCAL,
        status=RunStatus.RETIRED,
        created_at=AT + 0.125,
        base_model="all-MiniLM-L6-v2",
        parent="all-MiniLM-L6-v2",
        path="/data/finetuned/naïve ✓",
        collection="chunks-ft-1",
        metrics={"ndcg_at_10": 0.612345, "recall_at_10": 0.8, "mrr_at_10": 0.5},
        baseline_metrics={"ndcg_at_10": 0.6, "recall_at_10": 0.8, "mrr_at_10": 0.5},
        pairs=120,
        pair_sources={"feedback": 20, "corpus": 100, "llm": 0},
        duration_s=12.5,
        timings={"training": 8.0, "re-embed": 2.25, "evaluation": 1.5},
        loss=0.42,
        trigger="120 new feedback pairs (at least 100)",
        reason="nDCG@10 0.6000 -> 0.6123 (+0.0123): at least the margin 0.005",
        progress={"stage": "evaluating", "done": 3, "total": 3},
        promoted_at=AT + 10,
        retired_at=AT + 20,
        job={"job_id": "ftjob-1", "events": ["a", "b"]},
        fine_tuned_model=None,
    )


def test_a_run_is_stored_and_read_back_whole(opened: Opened) -> None:
    registry = opened.registry
    assert registry.get("all-MiniLM-L6-v2-ft-20250101-030000") is None
    assert registry.runs() == []
    stored = full_run()
    registry.put(stored)
    assert registry.get(stored.version) == stored
    assert registry.runs() == [stored]


def test_putting_a_version_again_updates_it_in_place(opened: Opened) -> None:
    registry = opened.registry
    first, second = run("v1", 1, RunStatus.CANDIDATE), run("v2", 2)
    registry.put(first)
    registry.put(second)
    first.status, first.stage = RunStatus.LIVE, ""
    registry.put(first)
    assert [(r.version, r.status) for r in registry.runs()] == [
        ("v1", RunStatus.LIVE),
        ("v2", RunStatus.REJECTED),
    ]


def test_runs_are_oldest_first_whatever_order_they_were_written_in(opened: Opened) -> None:
    registry = opened.registry
    for version, created in [("c", 3.0), ("a", 1.0), ("d", 4.0), ("b", 2.0), ("b2", 2.0)]:
        registry.put(run(version, created))
    assert [r.version for r in registry.runs()] == ["a", "b", "b2", "c", "d"]


def test_by_collection_finds_the_newest_run_of_a_collection(opened: Opened) -> None:
    registry = opened.registry
    registry.put(run("base", 0, RunStatus.RETIRED, Backend.BASE, collection="chunks-base"))
    registry.put(run("ft-2", 2, RunStatus.LIVE, collection="chunks-ft"))
    registry.put(run("ft-1", 1, RunStatus.RETIRED, collection="chunks-ft"))
    registry.put(run("job", 3, RunStatus.LIVE, Backend.OPENAI))
    found = registry.by_collection("chunks-ft")
    assert found is not None
    assert found.version == "ft-2"
    base = registry.by_collection("chunks-base")
    assert base is not None
    assert base.version == "base"
    assert registry.by_collection("chunks-unknown") is None


def test_live_is_the_newest_live_run_of_a_backend(opened: Opened) -> None:
    registry = opened.registry
    assert registry.live() is None
    registry.put(run("base", 0, RunStatus.RETIRED, Backend.BASE))
    registry.put(run("local-1", 1, RunStatus.LIVE))
    registry.put(run("job-1", 2, RunStatus.RETIRED, Backend.OPENAI))
    registry.put(run("job-2", 3, RunStatus.LIVE, Backend.OPENAI))
    registry.put(run("job-3", 4, RunStatus.CANDIDATE, Backend.OPENAI))
    registry.put(run("local-2", 5, RunStatus.REJECTED))

    def version(found: ModelRun | None) -> str | None:
        return found.version if found else None

    assert version(registry.live(Backend.LOCAL)) == "local-1"
    assert version(registry.live(Backend.OPENAI)) == "job-2"
    assert version(registry.live(Backend.BASE)) is None
    assert version(registry.live()) == "job-2"


def test_write_also_round_trips(opened: Opened) -> None:
    registry = opened.registry
    assert registry.write_also() == []
    registry.set_write_also(["chunks-ft-2", "chunks-base"])
    assert registry.write_also() == ["chunks-ft-2", "chunks-base"]
    registry.set_write_also([])
    assert registry.write_also() == []


def test_the_feedback_cursor_starts_at_zero_and_keeps_what_was_set(opened: Opened) -> None:
    registry = opened.registry
    assert registry.feedback_trained_through() == 0
    registry.set_feedback_trained_through(1234)
    assert registry.feedback_trained_through() == 1234


def test_a_reopened_registry_sees_the_same_runs_and_values(opened: Opened) -> None:
    registry = opened.registry
    runs = [full_run(), run("base", -5, RunStatus.LIVE, Backend.BASE, "chunks-base")]
    for stored in runs:
        registry.put(stored)
    registry.set_write_also(["chunks-ft-1"])
    registry.set_feedback_trained_through(77)

    reopened = opened.reopen()
    assert reopened.runs() == sorted(runs, key=lambda r: r.created_at)
    assert reopened.get(runs[0].version) == runs[0]
    assert reopened.write_also() == ["chunks-ft-1"]
    assert reopened.feedback_trained_through() == 77
    live = reopened.live()
    assert live is not None
    assert live.version == "base"


def test_the_mode_chooses_the_registry(tmp_path: Path, redis_server: RedisServer) -> None:
    embedded = open_registry(load_settings(data_dir=tmp_path))
    embedded.put(run("v1", 1))
    embedded.close()
    assert (tmp_path / "models.sqlite3").is_file()
    again = Registry(SqliteRegistry(tmp_path / "models.sqlite3"))
    assert [r.version for r in again.runs()] == ["v1"]
    again.close()

    distributed = open_registry(load_settings(data_dir=tmp_path, broker_url=redis_server.url))
    distributed.put(run("v2", 2))
    assert [r.version for r in Registry(RedisRegistry(redis_server.client())).runs()] == ["v2"]
    distributed.close()


def test_an_unreachable_registry_never_stops_start_up_nor_searches_of_the_configured_model(
    tmp_path: Path, models_dir: Path, embedder: SentenceTransformerEmbedder
) -> None:
    settings = load_settings(data_dir=tmp_path, model_cache_dir=models_dir)
    store = open_store(settings)
    store.ensure_collections(embedder.dimension, embedder.model_version)

    class Unreachable(SqliteRegistry):
        def all_runs(self) -> list[ModelRun]:
            raise redis.ConnectionError("injected: the broker is down")

    registry = Registry(Unreachable(tmp_path / "models.sqlite3"))
    try:
        catalog = ModelCatalog(settings, store, registry, embedder)
        catalog.record_base()  # logged, not raised
        assert catalog.live().embedder is embedder  # the configured model's own collection needs no registry
        assert registry.get(embedder.model_version) is None  # recorded at a later start
    finally:
        store.close()
        registry.close()
