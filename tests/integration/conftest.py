"""Integration fixtures: the real model (loaded once), local Qdrant in a temporary folder, the real
in-process Celery worker and the real watchdog watcher; a runtime answering questions through a local
OpenAI-compatible server."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from freshrag.documents import DocStatus
from freshrag.embedding import SentenceTransformerEmbedder, load_embedder
from freshrag.queue import QUEUES, make_client
from freshrag.runtime import Runtime, build_runtime
from freshrag.settings import Settings, load_settings
from freshrag.sources import WatchedFolder
from services.api import create_app
from services.watcher import FolderWatcher
from tests.fake_openai import FakeOpenAI, answer_from_passages, fake_openai
from workers.app import InProcessWorker, app

KILN = (
    "# Kiln schedule\n\nThe glaze kiln fires every Thursday at six in the morning. It cools until Saturday.\n"
)
PARKING = "# Parking\n\nVisitors park on level two of the north garage, next to the bicycle racks.\n"


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


@pytest.fixture
def answer_model() -> Iterator[FakeOpenAI]:
    with fake_openai() as server:
        server.chat_reply = answer_from_passages
        yield server


@pytest.fixture
def start_answering(
    make_settings: Callable[..., Settings],
    embedder: SentenceTransformerEmbedder,
    answer_model: FakeOpenAI,
    tmp_path: Path,
) -> Iterator[Callable[..., tuple[Runtime, TestClient]]]:
    """A runtime with the kiln and parking notes indexed, and a test client of its app."""
    opened: list[tuple[Runtime, TestClient]] = []

    def open_one(**overrides: Any) -> tuple[Runtime, TestClient]:
        values = {"openai_base_url": answer_model.base_url, "openai_api_key": "sk-test"} | overrides
        runtime = build_runtime(make_settings(**values), embedder=embedder)
        folder = tmp_path / "notes"
        folder.mkdir(exist_ok=True)
        watched = WatchedFolder.of(folder)
        for name, text in (("kiln.md", KILN), ("parking.md", PARKING)):
            (folder / name).write_text(text)
            assert runtime.indexer.apply(watched.change_for(name)).outcome in ("indexed", "unchanged")
        client = TestClient(create_app(runtime))
        client.__enter__()
        opened.append((runtime, client))
        return runtime, client

    yield open_one
    for runtime, client in opened:
        client.__exit__(None, None, None)
        with make_client(runtime.settings).connection_for_write() as connection:
            for queue in QUEUES:
                connection.default_channel.queue_purge(queue)
        runtime.close()
