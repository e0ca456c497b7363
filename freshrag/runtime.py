"""Wiring: the objects one freshrag process needs, built once from `Settings` at its entry point.

Only the entry points hold a `Runtime` (the command line, the API's app factory, the worker process); the
functions they call ask for the few services they use, as a small Protocol a `Runtime` satisfies."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from freshrag.activity import Activity
from freshrag.catalog import ModelCatalog
from freshrag.chunking import Chunker
from freshrag.content import ContentLoader
from freshrag.coordination import open_coordination
from freshrag.embedding import SentenceTransformerEmbedder, load_embedder
from freshrag.health.retrieval_choice import LiveRetrieval
from freshrag.pipeline import Indexer
from freshrag.queue import ChangeQueue
from freshrag.search import SearchService
from freshrag.settings import Settings
from freshrag.sources import IgnoreRules, WatchedFolder
from freshrag.state.dead_letters import DeadLetters
from freshrag.state.entries import EntryJournal
from freshrag.state.feedback import FeedbackLog
from freshrag.state.health import HealthState
from freshrag.state.locks import DocumentLocks, RunLock
from freshrag.state.registry import Registry
from freshrag.storage_health import StorageHealth
from freshrag.store import Store, open_store
from freshrag.telemetry import Metrics
from freshrag.webhooks.loading import EntryLoader


@dataclass
class Runtime:
    """Everything a freshrag process works with; `close()` releases the store."""

    settings: Settings
    store: Store
    models: ModelCatalog
    chunker: Chunker
    indexer: Indexer
    search: SearchService
    queue: ChangeQueue
    dead_letters: DeadLetters
    journal: EntryJournal
    health: HealthState
    feedback: FeedbackLog
    locks: DocumentLocks
    run_lock: RunLock
    metrics: Metrics
    storage: StorageHealth
    rules: IgnoreRules
    folders: list[WatchedFolder] = field(default_factory=list)
    # Set when the process starts to stop: long work (embedding a big document) gives up, to be redone.
    stopping: threading.Event = field(default_factory=threading.Event)

    @property
    def registry(self) -> Registry:
        return self.models.registry

    @property
    def embedder(self) -> SentenceTransformerEmbedder:
        """The live model (the one that embeds searches now)."""
        embedder = self.models.live().embedder
        assert isinstance(embedder, SentenceTransformerEmbedder)
        return embedder

    def close(self) -> None:
        self.store.close()
        self.registry.close()


def build_runtime(
    settings: Settings, metrics: Metrics | None = None, embedder: SentenceTransformerEmbedder | None = None
) -> Runtime:
    """Open the store and load the model named by `settings` (raises `StoreLockedError`, `SettingsError`).
    Pass `embedder` to share one loaded model between runtimes of one process."""
    logging.getLogger("freshrag").setLevel(settings.log_level)
    metrics = metrics or Metrics()
    store = open_store(settings)
    try:
        embedder = embedder or load_embedder(settings)
        store.ensure_collections(embedder.dimension, embedder.model_version)
    except BaseException:
        store.close()
        raise
    chunker = Chunker(
        embedder.count_tokens,
        settings.chunk_max_tokens,
        settings.chunk_target_tokens,
        tokenizer=embedder.counting_tokenizer,
    )
    shared = open_coordination(settings)
    models = ModelCatalog(settings, store, shared.registry, embedder)
    models.record_base()
    load = ContentLoader(
        EntryLoader(shared.journal, settings),
        settings.max_file_bytes,
        shared.health,
        follow_outside_links=settings.follow_outside_links,
    )
    activity = Activity(shared.health)
    stopping = threading.Event()
    indexer = Indexer(
        store,
        models,
        chunker,
        shared.locks,
        metrics,
        load,
        activity=activity,
        max_chunks=settings.max_chunks_per_document,
        max_seconds=settings.max_document_seconds,
        stopping=stopping,
    )
    return Runtime(
        settings=settings,
        store=store,
        models=models,
        chunker=chunker,
        indexer=indexer,
        search=SearchService(store, models, metrics, activity, LiveRetrieval(settings, shared.health)),
        queue=shared.queue,
        dead_letters=shared.dead_letters,
        journal=shared.journal,
        health=shared.health,
        feedback=shared.feedback,
        locks=shared.locks,
        run_lock=shared.run_lock,
        metrics=metrics,
        storage=StorageHealth(metrics.storage_writable),
        rules=IgnoreRules(settings.ignore_patterns),
        folders=[WatchedFolder.of(path) for path in settings.watch],
        stopping=stopping,
    )
