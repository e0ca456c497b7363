"""Distributed mode as a user runs it: redis-server, `freshrag up` on the broker (the process that owns the
local Qdrant store, hosting the API and a worker) and a separate `freshrag watcher` process."""

from __future__ import annotations

import hashlib
import json
import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import eventually
from tests.e2e.conftest import Instance, run
from tests.redis_server import RedisServer, free_port


def indexed(up: Instance) -> list[dict[str, Any]]:
    documents: list[dict[str, Any]] = up.http.get(
        "/documents", params={"status": "indexed", "limit": 1000}
    ).json()["documents"]
    return documents


def no_duplicate_or_orphan(up: Instance) -> None:
    status = up.http.get("/status").json()
    assert status["chunks"] == sum(document["chunk_count"] for document in indexed(up))
    assert status["queue_depth"] == 0
    assert status["dead_letters"] == 0


def start_distributed(
    spawn: Callable[..., Instance], start_up: Callable[..., Instance], redis: RedisServer, inbox: Path
) -> tuple[Instance, dict[str, str]]:
    roles_env = {"FRESHRAG_BROKER_URL": redis.url, "FRESHRAG_BROKER_VISIBILITY_TIMEOUT_SECONDS": "10"}
    up = start_up(extra_env=roles_env)
    spawn("watcher", "--watch", str(inbox), extra_env=roles_env)
    (inbox / "ready.md").write_text("# Ready\n\nThe watcher is running.")
    eventually(lambda: len(indexed(up)) == 1, timeout=60)
    return up, roles_env


def test_killing_the_store_owner_mid_burst_loses_and_duplicates_nothing(
    redis_server: RedisServer,  # first: it stops after the freshrag processes
    spawn: Callable[..., Instance],
    start_up: Callable[..., Instance],
    tmp_path: Path,
    abstracts: list[str],
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    up, roles_env = start_distributed(spawn, start_up, redis_server, inbox)
    for number, text in enumerate(abstracts[:30]):
        (inbox / f"paper-{number:02}.md").write_text(text)

    def several_indexed() -> int:
        count = len(indexed(up))
        return count if count > 3 else 0

    done_at_kill = eventually(several_indexed, timeout=60, interval=0.02)
    os.kill(up.process.pid, signal.SIGKILL)
    up.process.wait()
    assert done_at_kill < 31, "the burst was over before the kill: nothing was tested"

    again = start_up(extra_env=roles_env)
    eventually(lambda: len(indexed(again)) == 31, timeout=150, interval=0.5)
    eventually(lambda: again.http.get("/status").json()["queue_depth"] == 0, timeout=30)
    no_duplicate_or_orphan(again)
    for number in (0, 14, 29):
        title = abstracts[number].splitlines()[0].removeprefix("## ")
        hits = again.http.get("/search", params={"q": title, "k": 3}).json()["results"]
        assert hits[0]["uri"] == str(inbox / f"paper-{number:02}.md")


def test_changes_made_while_redis_is_down_are_indexed_once_it_is_back(
    redis_server: RedisServer,  # first: it stops after the freshrag processes
    spawn: Callable[..., Instance],
    start_up: Callable[..., Instance],
    tmp_path: Path,
    abstracts: list[str],
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    up, _ = start_distributed(spawn, start_up, redis_server, inbox)
    files = [inbox / f"paper-{number:02}.md" for number in range(20)]
    for path, text in zip(files, abstracts, strict=False):
        path.write_text(text)
    eventually(lambda: len(indexed(up)) == 21, timeout=120, interval=0.5)

    redis_server.stop()
    for path, text in zip(files, abstracts[20:], strict=False):
        path.write_text(text)
    eventually(lambda: up.http.get("/readyz").status_code == 503, timeout=10)
    redis_server.start()

    def current(path: Path) -> str:
        return hashlib.sha256(path.read_bytes()).hexdigest()

    def all_current() -> bool:
        hashes = {document["uri"]: document["content_hash"] for document in indexed(up)}
        return all(hashes.get(str(path)) == current(path) for path in files)

    eventually(all_current, timeout=120, interval=0.5)
    no_duplicate_or_orphan(up)
    title = abstracts[25].splitlines()[0].removeprefix("## ")
    assert up.http.get("/search", params={"q": title, "k": 3}).json()["results"][0]["uri"] == str(files[5])


def test_worker_and_beat_processes_index_a_folder_on_their_own(
    redis_server: RedisServer, spawn: Callable[..., Instance], tmp_path: Path, env: dict[str, str]
) -> None:
    """`freshrag worker` (prefork, owning the local store) and `freshrag beat` with no watcher: the scheduled
    reconcile finds the files, the worker indexes them."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for name, text in (
        ("owls.md", "Owls hunt at night on silent wings."),
        ("tea.txt", "Green tea is not oxidised."),
    ):
        (inbox / name).write_text(text)
    metrics_port = free_port()
    roles_env = {
        "FRESHRAG_BROKER_URL": redis_server.url,
        "FRESHRAG_WATCH": str(inbox),
        "FRESHRAG_RECONCILE_INTERVAL_SECONDS": "2",
        "FRESHRAG_CANARY_INTERVAL_SECONDS": "0",  # it would hold the only worker process while it waits
        "FRESHRAG_METRICS_PORT": str(metrics_port),
    }
    worker = spawn("worker", "--concurrency", "1", extra_env=roles_env)
    beat = spawn("beat", extra_env=roles_env)
    eventually(lambda: worker.log.read_text().count("'outcome': 'indexed'") == 2, timeout=120, interval=0.5)

    # What the prefork child observed, served by the worker's main process (prometheus multiprocess mode).
    exported = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10).text
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(exported)
        for sample in family.samples
    }
    indexed_files = (("op", "upsert"), ("outcome", "indexed"), ("source_kind", "file"))
    assert samples[("freshrag_events_total", indexed_files)] == 2
    upserts = (("le", "+Inf"), ("op", "upsert"), ("source_kind", "file"))
    # Found by the scheduled reconcile: a backfill, measured apart from the live edits of the SLO histogram.
    assert samples[("freshrag_backfill_latency_seconds_bucket", upserts)] == 2
    assert ("freshrag_update_latency_seconds_bucket", upserts) not in samples
    assert beat.stop() == 0
    assert worker.stop() == 0
    answer = run(["search", "birds that hunt in the dark", "--json"], env | roles_env, tmp_path)
    assert answer.returncode == 0, answer.stderr
    assert json.loads(answer.stdout)["results"][0]["uri"] == str(inbox / "owls.md")
