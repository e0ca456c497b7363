"""Which collection and model serve searches and writes, before, during and after a blue/green switch, on the
in-memory store with hashing models standing in for the real ones."""

from __future__ import annotations

import os
from typing import Any

import pytest

from freshrag.catalog import ModelCatalog
from freshrag.settings import load_settings
from freshrag.state.registry import Backend, ModelRun, Registry, RunStatus
from freshrag.store import chunk_collection
from freshrag.store.memory import MemoryStore
from tests.unit.fakes import DIMENSION, HashingEmbedder, MemoryRegistryStore

BASE = chunk_collection("base")
CANDIDATE = chunk_collection("candidate")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings come from the tests alone, not from the developer's FRESHRAG_* variables or freshrag.toml."""
    for name in [name for name in os.environ if name.startswith("FRESHRAG_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("FRESHRAG_CONFIG", "/nonexistent/freshrag.toml")


class Fixture:
    def __init__(self, registry_store: Any = None) -> None:
        self.store = MemoryStore()
        self.base = HashingEmbedder("base")
        self.store.ensure_collections(DIMENSION, "base")
        self.registry = Registry(registry_store or MemoryRegistryStore())
        self.loads: list[str] = []
        self.catalog = ModelCatalog(load_settings(), self.store, self.registry, self.base, load=self._load)

    def _load(self, run: ModelRun) -> HashingEmbedder:
        self.loads.append(run.version)
        return HashingEmbedder(run.version)

    def begin_switch(self) -> None:
        """What `freshrag.bluegreen.Switch.prepare` leaves behind: the candidate registered, its collection
        made, and every change asked to reach it too."""
        self.catalog.record_base()
        run = ModelRun(
            "candidate", Backend.LOCAL, RunStatus.CANDIDATE, 2.0, "base", path="/m", collection=CANDIDATE
        )
        self.registry.put(run)
        self.store.create_chunk_collection(CANDIDATE, DIMENSION)
        self.registry.set_write_also([CANDIDATE])

    def swap(self) -> None:
        """`Switch.swap`: the alias moves; the old collection keeps receiving changes for a while."""
        self.store.swap_alias(CANDIDATE)
        self.registry.set_write_also([BASE])


def routes(targets: list[Any]) -> list[tuple[str, str]]:
    return [(target.collection, target.embedder.model_version) for target in targets]


@pytest.fixture
def fx() -> Fixture:
    return Fixture()


def test_without_a_switch_the_configured_model_serves_searches_and_writes(fx: Fixture) -> None:
    assert routes([fx.catalog.live()]) == [(BASE, "base")]
    assert routes(fx.catalog.write_targets()) == [(BASE, "base")]
    assert fx.loads == []  # the configured model is already loaded


def test_during_a_switch_writes_reach_both_models_and_searches_stay_on_the_live_one(fx: Fixture) -> None:
    fx.begin_switch()

    assert routes(fx.catalog.write_targets()) == [(BASE, "base"), (CANDIDATE, "candidate")]
    assert routes([fx.catalog.live()]) == [(BASE, "base")]
    assert fx.loads == ["candidate"]  # loaded once, then kept


def test_after_the_swap_searches_read_the_new_collection_with_its_own_model(fx: Fixture) -> None:
    fx.begin_switch()
    fx.catalog.live()  # the alias is cached from before the swap
    fx.swap()

    # Writes see the swap at once, live first, and still reach the old collection.
    assert routes(fx.catalog.write_targets()) == [(CANDIDATE, "candidate"), (BASE, "base")]
    assert routes([fx.catalog.live()]) == [(BASE, "base")]  # the cache: at most ALIAS_CACHE_SECONDS
    fx.catalog.forget_alias()
    assert routes([fx.catalog.live()]) == [(CANDIDATE, "candidate")]


def test_a_query_vector_comes_from_the_model_of_the_collection_searched(fx: Fixture) -> None:
    fx.begin_switch()
    fx.swap()
    fx.catalog.forget_alias()

    live = fx.catalog.live()

    assert live.collection == CANDIDATE
    query = live.embedder.embed_query("rotate the keys")
    assert list(query) == list(HashingEmbedder("candidate").embed_query("rotate the keys"))
    assert list(query) != list(fx.base.embed_query("rotate the keys"))


class UnreachableRegistry(MemoryRegistryStore):
    def all_runs(self) -> list[ModelRun]:
        raise ConnectionError("registry down")


def test_with_the_registry_unreachable_only_the_configured_models_collection_is_served() -> None:
    fx = Fixture(UnreachableRegistry())

    assert fx.catalog.embedder_for(BASE) is fx.base
    with pytest.raises(ConnectionError):
        fx.catalog.embedder_for(CANDIDATE)  # which model embeds it is unknown: never guess
