"""Property: after any sequence of file operations, once changes stop, the index equals the folder."""

from __future__ import annotations

import itertools
import os
import shutil
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from freshrag.documents import DocStatus
from freshrag.parsing import ParsedDocument, parse_file
from tests.conftest import eventually
from tests.integration.conftest import System
from tests.redis_server import RedisServer

NAMES = ["a.md", "notes/c.md", "notes/deep/e.html", "b.txt"]
TEXTS = [
    "Rivers carry sediment to the sea.",
    "# Bridges\n\nSuspension bridges hang from cables.\n\n## Arches\n\nArches push outward on abutments.",
    "Owls hunt at night with silent wings.\n\nThey swallow prey whole.",
    "<html><body><h1>Tea</h1><p>Green tea is not oxidised.</p></body></html>",
    "",
]

operations = st.lists(
    st.one_of(
        st.tuples(st.just("write"), st.sampled_from(NAMES), st.sampled_from(TEXTS)),
        st.tuples(st.just("delete"), st.sampled_from(NAMES), st.none()),
        st.tuples(st.just("rename"), st.sampled_from(NAMES), st.sampled_from(NAMES)),
        # Let the watcher and the worker catch up, so later operations hit documents already indexed.
        st.tuples(st.just("pause"), st.just(""), st.none()),
        st.tuples(
            st.just("move_dir"),
            st.sampled_from(["notes", "notes/deep"]),
            st.sampled_from(["moved", "notes/x"]),
        ),
    ),
    min_size=1,
    max_size=14,
)


def apply(root: Path, operation: tuple[str, str, str | None]) -> None:
    kind, name, argument = operation
    path = root / name
    if kind == "pause":
        time.sleep(0.4)
    elif kind == "write":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(argument or "")
    elif kind == "delete" and path.is_file():
        path.unlink()
    elif kind == "rename" and path.is_file() and argument:
        target = root / argument
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, target)
    elif kind == "move_dir" and path.is_dir() and argument and not (root / argument).exists():
        target = root / argument
        if not target.resolve().is_relative_to(path.resolve()):  # never into itself
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(path), str(target))


def expected_index(system: System) -> dict[str, Counter[str]]:
    """For every file now in the folder that has text: the chunk texts search must hold for it."""
    expected = {}
    for path in system.inbox.rglob("*"):
        if path.is_file():
            parsed = parse_file(path.name, path.read_bytes())
            if isinstance(parsed, ParsedDocument):
                expected[str(path)] = Counter(chunk.text for chunk in system.runtime.chunker.chunk(parsed))
    return expected


def actual_index(system: System) -> dict[str, Counter[str]]:
    actual: dict[str, Counter[str]] = {}
    for payload in system.runtime.store.all_chunk_payloads():
        actual.setdefault(payload["uri"], Counter())[payload["text"]] += 1
    return actual


def converged(system: System) -> bool:
    if not system.settled() or expected_index(system) != actual_index(system):
        return False
    indexed = {r.uri: r for r in system.runtime.store.records(status=DocStatus.INDEXED)}
    return set(indexed) == set(expected_index(system)) and all(
        r.chunk_count == sum(expected_index(system)[uri].values()) for uri, r in indexed.items()
    )


@pytest.mark.parametrize("broker", ["embedded", "redis"])
def test_the_index_converges_on_the_folder(
    broker: str, tmp_path: Path, start_system: Callable[..., System]
) -> None:
    if broker == "redis":  # the same property through redis-server, with the coordination in Redis
        redis = RedisServer(tmp_path / "redis")
        redis.start()
        system = start_system(broker_url=redis.url)
    else:
        system = start_system()
    runs = itertools.count()

    @settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
    @given(operations)
    def check(ops: list[tuple[str, str, str | None]]) -> None:
        root = system.inbox / f"run{next(runs)}"
        root.mkdir()
        seed = [("write", name, TEXTS[i % len(TEXTS)]) for i, name in enumerate(NAMES)] + [
            ("pause", "", None)
        ]
        for operation in seed + ops:
            apply(root, operation)
        eventually(lambda: converged(system), timeout=30)
        assert not any(uri.startswith(str(root)) and not Path(uri).exists() for uri in actual_index(system))

    try:
        check()
    finally:
        system.stop()
        if broker == "redis":
            redis.stop()
