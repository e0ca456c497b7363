"""Integration fixtures: the real model (loaded once), local Qdrant in a temporary folder, the real
in-process Celery worker and the real watchdog watcher."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from freshrag.documents import DocStatus
from freshrag.embedding import SentenceTransformerEmbedder, load_embedder
from freshrag.queue import QUEUES
from freshrag.runtime import Runtime, build_runtime
from freshrag.settings import Settings, load_settings
from services.watcher import FolderWatcher
from workers.app import InProcessWorker, app


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def embedder(models_dir: Path) -> SentenceTransformerEmbedder:
    return load_embedder(load_settings(model_cache_dir=models_dir))


@pytest.fixture
def make_settings(tmp_path: Path, models_dir: Path) -> Callable[..., Settings]:
    def make(**overrides: object) -> Settings:
        values: dict[str, object] = {
            "data_dir": tmp_path / "data",
            "model_cache_dir": models_dir,
            "watch_settle_seconds": 0.05,
            "reconcile_interval_seconds": 0,
            # Scheduled checks only where a test asks for them: they would add index runs of their own.
            "canary_interval_seconds": 0,
            "drift_interval_seconds": 0,
        }
        values.update(overrides)
        return load_settings(**values)

    return make


@pytest.fixture
def runtime(
    make_settings: Callable[..., Settings], embedder: SentenceTransformerEmbedder
) -> Iterator[Runtime]:
    rt = build_runtime(make_settings(), embedder=embedder)
    yield rt
    rt.close()


@dataclass
class System:
    """`freshrag up` without the HTTP server: runtime, in-process worker and watcher on `inbox`."""

    runtime: Runtime
    inbox: Path
    worker: InProcessWorker
    watcher: FolderWatcher

    def stop(self) -> None:
        self.watcher.stop()
        self.worker.stop()
        with app.connection_for_write() as connection:
            for queue in QUEUES:
                connection.default_channel.queue_purge(queue)
        self.runtime.close()

    def searchable_docs(self, query: str = "document", k: int = 100) -> set[str]:
        return {hit.uri for hit in self.runtime.search.search(query, k).results}

    def status_of(self, name: str) -> DocStatus | None:
        record = self.runtime.store.get_record(self.runtime.folders[0].change_for(name).doc_id)
        return record.status if record else None

    def index_runs(self) -> float:
        """How many times the worker applied a change (any outcome), from the events counter."""
        return sum(
            sample.value
            for metric in self.runtime.metrics.events.collect()
            for sample in metric.samples
            if sample.name.endswith("_total")
        )

    def settled(self) -> bool:
        return self.watcher.pending() == 0 and self.runtime.queue.pending.depth() == 0


@pytest.fixture
def start_system(
    tmp_path: Path, make_settings: Callable[..., Settings], embedder: SentenceTransformerEmbedder
) -> Iterator[Callable[..., System]]:
    started: list[System] = []

    def start(**overrides: object) -> System:
        inbox = tmp_path / "inbox"
        inbox.mkdir(exist_ok=True)
        rt = build_runtime(make_settings(watch=(inbox,), **overrides), embedder=embedder)
        worker = InProcessWorker(rt)
        worker.start()
        watcher = FolderWatcher(rt.folders, rt.rules, rt.queue, rt.settings.watch_settle_seconds)
        watcher.start()
        system = System(rt, inbox, worker, watcher)
        started.append(system)
        return system

    yield start
    for system in started:
        with contextlib.suppress(Exception):  # already stopped by the test
            system.stop()
