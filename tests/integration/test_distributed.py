"""Distributed mode on a real Redis: the in-process Celery worker consumes from redis-server, and the
coordination (claims, locks, dead letters) lives in Redis. Faults are injected at the store interface."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from freshrag.documents import DocStatus
from freshrag.store import ChunkPoint
from services.api import create_app
from tests.conftest import eventually
from tests.integration.conftest import System
from tests.redis_server import RedisServer
from workers import indexing

TIDES = "# Tides\n\nThe moon pulls the oceans into two bulges that the earth turns beneath."


def chunk_texts(system: System, name: str) -> list[str]:
    uri = str(system.inbox / name)
    return [p["text"] for p in system.runtime.store.all_chunk_payloads() if p["uri"] == uri]


def test_a_store_write_failing_for_a_while_is_retried_until_it_lands(
    redis_server: RedisServer, start_system: Callable[..., System], monkeypatch: pytest.MonkeyPatch
) -> None:
    system = start_system(broker_url=redis_server.url, task_max_retries=10, retry_backoff_max_seconds=0.2)
    store = system.runtime.store
    write = store.upsert_chunks
    calls = itertools.count()

    def flaky(points: list[ChunkPoint], collection: str | None = None) -> None:
        if next(calls) < 3:
            raise ConnectionError("injected: the store is unreachable")
        write(points, collection)

    monkeypatch.setattr(store, "upsert_chunks", flaky)
    (system.inbox / "tides.md").write_text(TIDES)
    eventually(lambda: system.status_of("tides.md") is DocStatus.INDEXED, timeout=30)
    assert next(calls) >= 4  # three failures, then the write that landed
    assert str(system.inbox / "tides.md") in system.searchable_docs("moon and oceans")
    assert system.runtime.dead_letters.count() == 0


def test_a_change_failing_for_good_is_dead_lettered_then_replayed(
    redis_server: RedisServer, start_system: Callable[..., System], monkeypatch: pytest.MonkeyPatch
) -> None:
    system = start_system(broker_url=redis_server.url, task_max_retries=2, retry_backoff_max_seconds=0.1)
    store = system.runtime.store
    write = store.upsert_chunks
    broken = threading.Event()
    broken.set()

    def failing(points: list[ChunkPoint], collection: str | None = None) -> None:
        if broken.is_set():
            raise ConnectionError("injected: the store refuses writes")
        write(points, collection)

    monkeypatch.setattr(store, "upsert_chunks", failing)
    api = TestClient(create_app(system.runtime))
    (system.inbox / "tides.md").write_text(TIDES)

    failed = eventually(lambda: api.get("/documents", params={"status": "failed"}).json()["documents"], 30)
    assert len(failed) == 1
    assert failed[0]["uri"] == str(system.inbox / "tides.md")
    assert "dead letter after 3 attempts" in failed[0]["reason"]
    assert "the store refuses writes" in failed[0]["reason"]
    status = api.get("/status").json()
    assert status["dead_letters"] == 1
    assert status["problems"][0]["doc_id"] == failed[0]["doc_id"]
    metrics = api.get("/metrics").text
    assert "freshrag_dead_letter 1.0" in metrics
    assert 'outcome="dead_letter"' in metrics
    assert system.searchable_docs("moon and oceans") == set()

    broken.clear()
    replayed = api.post("/admin/dead-letters/replay")
    assert replayed.status_code == 202
    assert replayed.json() == {"replayed": 1}
    eventually(lambda: system.status_of("tides.md") is DocStatus.INDEXED, timeout=30)
    assert str(system.inbox / "tides.md") in system.searchable_docs("moon and oceans")
    assert api.get("/status").json()["dead_letters"] == 0
    assert "freshrag_dead_letter 0.0" in api.get("/metrics").text


def test_a_burst_of_saves_costs_at_most_two_index_runs_and_ends_on_the_last(
    redis_server: RedisServer, start_system: Callable[..., System]
) -> None:
    system = start_system(broker_url=redis_server.url)
    draft = system.inbox / "draft.md"
    draft.write_text("# Draft\n\nRevision start of the harbour plan.")
    eventually(lambda: system.status_of("draft.md") is DocStatus.INDEXED)
    eventually(system.settled)
    before = system.index_runs()
    change = system.runtime.folders[0].change_for("draft.md")
    interval = system.runtime.settings.reindex_interval_seconds
    started = time.monotonic()
    for revision in range(40):  # a save every 20 ms for 0.8 s, each announced like the watcher does
        draft.write_text(f"# Draft\n\nRevision {revision} of the harbour plan.")
        system.runtime.queue.submit(change)
        time.sleep(0.02)
    burst = time.monotonic() - started
    eventually(lambda: chunk_texts(system, "draft.md") == ["Revision 39 of the harbour plan."], timeout=20)
    eventually(system.settled)
    time.sleep(interval + 0.5)  # anything still scheduled would have run by now
    # Two runs for a burst within one interval; a loaded machine that stretches the burst earns one more
    # run per interval it spans. Without coalescing the 40 saves would cost up to 40 runs.
    assert system.index_runs() - before <= 2 + int(burst // interval)
    assert chunk_texts(system, "draft.md") == ["Revision 39 of the harbour plan."]


def test_two_workers_racing_on_one_document_take_turns_and_keep_the_newest(
    redis_server: RedisServer, start_system: Callable[..., System], monkeypatch: pytest.MonkeyPatch
) -> None:
    system = start_system(broker_url=redis_server.url, worker_concurrency=2, reindex_interval_seconds=0)
    store = system.runtime.store
    write = store.upsert_chunks
    inside: dict[str, int] = {}
    most = [0]
    guard = threading.Lock()

    def observed(points: list[ChunkPoint], collection: str | None = None) -> None:
        doc_ids = {point.payload["doc_id"] for point in points}
        with guard:
            for doc_id in doc_ids:
                inside[doc_id] = inside.get(doc_id, 0) + 1
                most[0] = max(most[0], inside[doc_id])
        try:
            time.sleep(0.05)  # widen the window in which a second writer could slip in
            write(points, collection)
        finally:
            with guard:
                for doc_id in doc_ids:
                    inside[doc_id] -= 1

    monkeypatch.setattr(store, "upsert_chunks", observed)
    notes = system.inbox / "notes.md"
    change = system.runtime.folders[0].change_for("notes.md")
    for revision in range(12):
        notes.write_text(f"# Notes\n\nMeeting {revision}: the bridge opens in spring.")
        for _ in range(2):  # duplicate deliveries, as after a redelivery: both workers take one
            system.runtime.queue.submit(change, coalesce=False)
        time.sleep(0.03)
    eventually(lambda: chunk_texts(system, "notes.md") == ["Meeting 11: the bridge opens in spring."], 30)
    eventually(system.settled)
    assert most[0] == 1, "two workers wrote the same document at once"
    record = system.runtime.store.get_record(change.doc_id)
    assert record is not None
    assert record.chunk_count == 1
    assert chunk_texts(system, "notes.md") == ["Meeting 11: the bridge opens in spring."]


def test_http_ingress_answers_503_with_retry_after_while_the_broker_is_down(
    redis_server: RedisServer, start_system: Callable[..., System]
) -> None:
    system = start_system(broker_url=redis_server.url)
    api = TestClient(create_app(system.runtime))
    assert api.get("/readyz").status_code == 200
    redis_server.stop()
    refused = api.post("/admin/reconcile")
    assert refused.status_code == 503
    assert int(refused.headers["Retry-After"]) > 0
    assert "broker" in refused.json()["detail"]
    ready: Any = api.get("/readyz")
    assert ready.status_code == 503
    assert "broker" in ready.json()["problems"]
    redis_server.start()
    eventually(lambda: api.post("/admin/reconcile").status_code == 202, timeout=20)


def test_a_change_waiting_for_its_retry_stays_pending_with_its_first_detection_time(
    redis_server: RedisServer, start_system: Callable[..., System], monkeypatch: pytest.MonkeyPatch
) -> None:
    system = start_system(broker_url=redis_server.url, task_max_retries=5)
    monkeypatch.setattr(indexing, "_backoff", lambda retries, longest: 2.0)  # a retry wait long enough to see
    store = system.runtime.store
    lookup = store.existing_chunk_ids
    failures = threading.Event()
    broken = threading.Event()
    broken.set()

    def unreachable(ids: list[str], collection: str | None = None) -> set[str]:
        if broken.is_set():
            failures.set()
            raise ConnectionError("injected: the store is unreachable")
        return lookup(ids, collection)

    monkeypatch.setattr(store, "existing_chunk_ids", unreachable)
    api = TestClient(create_app(system.runtime))
    doc_id = system.runtime.folders[0].change_for("tides.md").doc_id
    written = time.time()
    (system.inbox / "tides.md").write_text(TIDES)
    assert failures.wait(20), "the first run never reached the store"
    time.sleep(0.5)  # the first run has failed and its retry waits (2 s)

    pending = system.runtime.queue.pending
    assert pending.depth() == 1
    assert pending.oldest_age() >= time.time() - written - 0.5  # counted from the first detection
    detected = pending.waiting(doc_id)
    assert detected is not None
    assert written - 0.1 <= detected <= written + 2
    document = api.get(f"/documents/{doc_id}")
    assert document.status_code == 200
    assert document.json()["status"] == "pending"
    assert "freshrag_queue_depth 1.0" in api.get("/metrics").text

    broken.clear()
    eventually(lambda: system.status_of("tides.md") is DocStatus.INDEXED, timeout=30)
    eventually(system.settled)
    assert api.get(f"/documents/{doc_id}").json()["status"] == "indexed"
