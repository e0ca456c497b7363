"""The embedded store's folder as a user can find it: something foreign or broken in it stops `EdgeStore` with
`StoreCorruptError`, one line naming the folder, and nothing written there (the user may still recover it); a
second process on the same folder gets `StoreLockedError`. The `freshrag` command turns both into exit code
2 and one line on stderr."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import qdrant_edge as qe

from freshrag.store import (
    ChunkPoint,
    ChunkQuery,
    SparseVector,
    StoreCorruptError,
    StoreLockedError,
    chunk_point_id,
)
from freshrag.store.edge import EdgeStore

PROJECT = Path(__file__).resolve().parents[2]
DIMENSION = 8


def snapshot(folder: Path) -> dict[str, str]:
    """Every file and folder under `folder` (itself included, when a file): path to a hash of its bytes."""
    paths = sorted(folder.rglob("*")) if folder.is_dir() else [folder]
    return {
        str(path): "dir" if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest() for path in paths
    }


def make_index(folder: Path) -> Path:
    """A healthy store with one chunk and a live collection, closed."""
    store = EdgeStore(folder)
    store.ensure_collections(DIMENSION, "model-1")
    vector = np.ones(DIMENSION, dtype=np.float32)
    store.upsert_chunks(
        [ChunkPoint(chunk_point_id("d", "0"), vector, {"doc_id": "d"}, SparseVector([1], [1.0]))]
    )
    live = folder / "chunks" / store.live_collection()
    store.close()
    return live


def junk_folder(index: Path, live: Path) -> Path:
    bad = index / "chunks" / "freshrag_chunks__copied_by_hand"
    bad.mkdir()
    (bad / "notes.txt").write_bytes(os.urandom(200))
    (bad / "edge_config.json").write_bytes(b"\x00\xff not json")
    return bad


def foreign_shard(index: Path, live: Path) -> Path:
    bad = index / "chunks" / "freshrag_chunks__other_app"
    config = qe.EdgeConfig(vectors={"image": qe.EdgeVectorParams(size=4, distance=qe.Distance.Dot)})
    qe.EdgeShard.create(str(bad), config).close()
    return bad


def shard_without_our_prefix(index: Path, live: Path) -> Path:
    bad = index / "chunks" / "backup"
    os.rename(live, bad)
    (index / "live").write_text(bad.name + "\n", encoding="utf-8")
    return bad


def broken_segment(index: Path, live: Path) -> Path:
    segment = next((live / "segments").iterdir())
    (segment / "segment.json").write_text('{"version": ', encoding="utf-8")
    return live


def pointer_to_a_missing_collection(index: Path, live: Path) -> Path:
    pointer = index / "live"
    pointer.write_text("freshrag_chunks__deleted_model\n", encoding="utf-8")
    return pointer


def pointer_of_binary_junk(index: Path, live: Path) -> Path:
    pointer = index / "live"
    pointer.write_bytes(b"\xff\xfe\x00" + os.urandom(64))
    return pointer


def broken_records(index: Path, live: Path) -> Path:
    records = index / "records.sqlite"
    for extra in ("records.sqlite-wal", "records.sqlite-shm"):
        (index / extra).unlink(missing_ok=True)
    records.write_bytes(b"this is not a database" + os.urandom(4000))
    return records


BREAKAGES: list[Callable[[Path, Path], Path]] = [
    junk_folder,
    foreign_shard,
    shard_without_our_prefix,
    broken_segment,
    pointer_to_a_missing_collection,
    pointer_of_binary_junk,
    broken_records,
]


@pytest.mark.parametrize("breakage", BREAKAGES, ids=lambda b: b.__name__)
def test_a_broken_folder_is_named_and_left_as_it_was(
    tmp_path: Path, breakage: Callable[[Path, Path], Path]
) -> None:
    index = tmp_path / "index"
    bad = breakage(index, make_index(index))
    before = snapshot(bad)

    with pytest.raises(StoreCorruptError) as caught:
        EdgeStore(index)

    message = str(caught.value)
    assert str(bad) in message
    assert "\n" not in message
    assert snapshot(bad) == before
    EdgeStore(index.parent / "elsewhere").close()  # nothing of the failed open is left holding anything
    with pytest.raises(StoreCorruptError):
        EdgeStore(index)  # the lock was released: the same error again, not StoreLockedError


def test_a_second_store_on_an_open_folder_is_locked_out(tmp_path: Path) -> None:
    index = tmp_path / "index"
    first = EdgeStore(index)
    try:
        with pytest.raises(StoreLockedError, match=str(index)):
            EdgeStore(index)
        first.ensure_collections(DIMENSION, "model-1")  # the holder is unharmed
    finally:
        first.close()
    EdgeStore(index).close()  # released on close


def test_the_command_reports_a_broken_data_dir_in_one_line(tmp_path: Path) -> None:
    data = tmp_path / "data"
    bad = foreign_shard(data / "index", make_index(data / "index"))
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "PYTHONPATH": str(PROJECT),
        "FRESHRAG_URL": "http://127.0.0.1:9",  # nothing listens: the command opens the store itself
    }

    finished = subprocess.run(
        [
            sys.executable,
            "-c",
            "from freshrag_cli.main import main; main()",
            "search",
            "x",
            "--data-dir",
            str(data),
        ],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert finished.returncode == 2, finished.stderr
    lines = finished.stderr.strip().splitlines()
    assert len(lines) == 1, finished.stderr
    assert str(bad) in lines[0]
    assert finished.stdout == ""


def test_what_a_killed_process_was_creating_or_dropping_is_forgotten(tmp_path: Path) -> None:
    """Collections are built and torn down under scratch/ and renamed in or out of chunks/ whole, so a kill
    half-way leaves its debris only there, and the next start clears it instead of refusing to open."""
    index = tmp_path / "index"
    make_index(index)
    store = EdgeStore(index)
    store.create_chunk_collection("freshrag_chunks__model_2", DIMENSION)
    point = ChunkPoint(
        chunk_point_id("e", "0"), np.ones(DIMENSION), {"doc_id": "e"}, SparseVector([2], [1.0])
    )
    store.upsert_chunks([point], "freshrag_chunks__model_2")
    store.create_chunk_collection("freshrag_chunks__model_3", DIMENSION)
    store.drop_collection("freshrag_chunks__model_3")
    store.close()
    for debris in ("create-freshrag_chunks__model_4", "drop-freshrag_chunks__model_5"):
        (index / "scratch" / debris / "segments").mkdir(parents=True)
        (index / "scratch" / debris / "segments" / "half.dat").write_bytes(os.urandom(100))

    reopened = EdgeStore(index)
    try:
        assert reopened.chunk_collections() == ["freshrag_chunks__model_1", "freshrag_chunks__model_2"]
        assert reopened.chunk_ids("freshrag_chunks__model_2") == {point.id: "e"}
        assert not (index / "scratch").exists()
    finally:
        reopened.close()


def test_a_collection_written_by_an_earlier_build_keeps_its_chunks_and_gets_the_search_settings(
    tmp_path: Path,
) -> None:
    """Shards from before the one-thread search pool and the graph for every indexed segment (their config
    names no pool size and Edge's full-scan threshold) open as they are, answer searches, and are switched
    to this build's settings, which the engine then keeps in their config."""
    index = tmp_path / "index"
    live = make_index(index)
    config_file = live / "edge_config.json"
    config = json.loads(config_file.read_text(encoding="utf-8"))
    del config["max_search_threads"]
    config["hnsw_config"]["full_scan_threshold"] = 10_000
    config_file.write_text(json.dumps(config), encoding="utf-8")

    store = EdgeStore(index)
    try:
        hits = store.search(ChunkQuery(limit=3, dense=np.ones(DIMENSION, dtype=np.float32)))
        assert [hit.payload["doc_id"] for hit in hits] == ["d"]
    finally:
        store.close()
    upgraded = json.loads(config_file.read_text(encoding="utf-8"))
    assert upgraded["max_search_threads"] == 1
    assert upgraded["hnsw_config"]["full_scan_threshold"] == 1_000


def test_the_search_pool_follows_the_setting_each_time_the_store_opens(tmp_path: Path) -> None:
    """FRESHRAG_SEARCH_POOL_THREADS: a large store for one user may give each search the engine's parallel
    segment reads; the shard keeps whichever size it was last opened with, and its chunks."""
    index = tmp_path / "index"
    live = make_index(index)
    config_file = live / "edge_config.json"

    for threads in (2, 1):
        store = EdgeStore(index, search_pool_threads=threads)
        try:
            hits = store.search(ChunkQuery(limit=3, dense=np.ones(DIMENSION, dtype=np.float32)))
            assert [hit.payload["doc_id"] for hit in hits] == ["d"]
        finally:
            store.close()
        assert json.loads(config_file.read_text(encoding="utf-8"))["max_search_threads"] == threads
