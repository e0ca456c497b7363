"""Which model embeds what: the live collection and its model for searches, every collection a change must
reach for writes, and the loaded models themselves.

A query is always embedded by the model of the collection it is about to search, and that collection is
searched by name (never through the alias), so an alias swap between the two steps cannot pair a query vector
with the other model's index. The alias is looked up at most once per `ALIAS_CACHE_SECONDS`; a switch keeps
writing to the old collection for longer than that after the swap (see `freshrag.bluegreen`), so a search
that still reads the old collection never reads a stale one.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from freshrag.embedding import Embedder, SentenceTransformerEmbedder
from freshrag.settings import Settings
from freshrag.state.registry import Backend, ModelRun, Registry, RunStatus
from freshrag.store import Store, chunk_collection

log = logging.getLogger(__name__)

ALIAS_CACHE_SECONDS = 1.0
_LOADED_MODELS = 3  # the live one, a candidate, and the one rolled back from


class Target(NamedTuple):
    """A chunk collection and the model that embeds for it."""

    collection: str
    embedder: Embedder


# Loads the model of a run from its local folder (`ModelRun.path`).
ModelLoader = Callable[[ModelRun], SentenceTransformerEmbedder]


class ModelCatalog:
    """Loaded models by version, and the routing of reads and writes between collections. Thread-safe.
    `load` loads a run's model (default: sentence-transformers, as `settings` configure it)."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        registry: Registry,
        base: SentenceTransformerEmbedder,
        *,
        load: ModelLoader | None = None,
    ) -> None:
        self._settings = settings
        self._store = store
        self._registry = registry
        self._base = base
        self._load = load or self._load_sentence_transformer
        self._lock = threading.Lock()
        self._loaded: dict[str, SentenceTransformerEmbedder] = {base.model_version: base}
        self._alias: tuple[float, str] | None = None
        self._runs: dict[str, ModelRun] = {}
        self._warming: set[str] = set()

    @property
    def registry(self) -> Registry:
        return self._registry

    @property
    def base(self) -> SentenceTransformerEmbedder:
        """The configured model (FRESHRAG_EMBEDDING_MODEL): the chunker's tokenizer, the first live model."""
        return self._base

    def record_base(self) -> None:
        """Register the configured model as the first live one, once, when the registry is empty. A registry
        out of reach (the broker down at start-up) is left for the next start: it never stops this one."""
        base = ModelRun(
            version=self._base.model_version,
            backend=Backend.BASE,
            status=RunStatus.LIVE,
            created_at=time.time(),
            base_model=self._settings.embedding_model,
            path=str(self._base.model_dir),
            collection=self._store.live_collection(),
            trigger="configured model",
        )
        try:
            if not self._registry.runs():
                self._registry.put(base)
        except Exception as exc:
            log.warning("model registry unreachable (%s): the configured model is recorded later", exc)

    def live_collection(self, *, fresh: bool = False) -> str:
        now = time.monotonic()
        with self._lock:
            cached = self._alias
        if not fresh and cached is not None and now - cached[0] < ALIAS_CACHE_SECONDS:
            return cached[1]
        collection = self._store.live_collection()
        with self._lock:
            self._alias = (now, collection)
        self._prewarm()
        return collection

    def _prewarm(self) -> None:
        """Load, in the background, the model of a switch under way, so that the first searches after the
        swap do not wait for it (processes that only search learn of a switch here)."""
        try:
            also = self._registry.write_also()
        except Exception as exc:  # the registry unreachable for a moment: searches go on regardless
            log.debug("could not read the switch under way: %s", exc)
            return
        for collection in also:
            with self._lock:
                known = self._runs.get(collection)
                if collection in self._warming or (known is not None and known.version in self._loaded):
                    continue
                self._warming.add(collection)
            threading.Thread(
                target=self._warm, args=(collection,), name="freshrag-model-warm", daemon=True
            ).start()

    def _warm(self, collection: str) -> None:
        try:
            self.embedder_for(collection)
        except Exception as exc:
            log.warning("could not load the model of %s ahead of its swap: %s", collection, exc)
        finally:
            with self._lock:
                self._warming.discard(collection)

    def live(self) -> Target:
        """The collection searches read and the model that embeds their queries."""
        collection = self.live_collection()
        return Target(collection, self.embedder_for(collection))

    def live_version(self) -> str:
        return self.live().embedder.model_version

    def write_targets(self) -> list[Target]:
        """Every collection a change must reach now, live first. Call it while holding the document's lock:
        a switch waits for the locks held when it began (see `freshrag.bluegreen.barrier`)."""
        also = self._registry.write_also()  # before the alias: a swap never hides the new live collection
        live = self._store.live_collection()
        return [Target(name, self.embedder_for(name)) for name in dict.fromkeys([live, *also])]

    def embedder_for(self, collection: str) -> Embedder:
        with self._lock:
            run = self._runs.get(collection)
        if run is None:
            try:
                run = self._registry.by_collection(collection)
            except Exception:
                if collection != chunk_collection(self._base.model_version):
                    raise  # which model embeds this collection is unknown: never guess
                return self._base  # the configured model's own collection needs no registry
            if run is not None:  # a collection's name comes from its version: this never changes
                with self._lock:
                    self._runs[collection] = run
        if run is None:
            if collection != chunk_collection(self._base.model_version):
                log.warning("no registered model for %s; embedding with the configured model", collection)
            return self._base
        return self.embedder(run)

    def embedder(self, run: ModelRun) -> SentenceTransformerEmbedder:
        """The loaded model of `run` (exported to the serving backend on first use)."""
        with self._lock:
            loaded = self._loaded.get(run.version)
            if loaded is not None:
                return loaded
            if run.path is None:
                raise ValueError(f"model {run.version} has no local folder (backend {run.backend})")
            log.info("loading model %s from %s", run.version, run.path)
            loaded = self._load(run)
            self._loaded[run.version] = loaded
            self._evict(keep=run.version)
            return loaded

    def _load_sentence_transformer(self, run: ModelRun) -> SentenceTransformerEmbedder:
        assert run.path is not None  # `embedder` refuses a run without a folder
        return SentenceTransformerEmbedder(
            Path(run.path),
            self._settings.embedding_backend,
            self._settings.models_dir,
            self._settings.embedding_batch_size,
            threads=self._settings.embedding_threads,
            query_copies=self._settings.search_threads,
        )

    def _evict(self, keep: str) -> None:
        while len(self._loaded) > _LOADED_MODELS:
            oldest = next(v for v in self._loaded if v not in (keep, self._base.model_version))
            del self._loaded[oldest]

    def forget_alias(self) -> None:
        """Look the alias up again on the next search (this process just swapped it)."""
        with self._lock:
            self._alias = None
