"""A data dir that stops taking writes (a read-only remount, a full disk), on the embedded system: the store's
writes fail (injected at the store interface, as Qdrant Edge's would), and the dead-letter database is
replaced by a directory, which no process, root included, can open as a file."""

from __future__ import annotations

import errno
import itertools
import logging
import threading
import time
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from freshrag.documents import DocStatus
from freshrag.store import ChunkPoint
from services.api import create_app
from tests.conftest import eventually
from tests.integration.conftest import System

TIDES = "# Tides\n\nThe moon pulls the oceans into two bulges that the earth turns beneath."


def test_an_unwritable_data_dir_backs_off_says_so_once_and_loses_nothing(
    start_system: Callable[..., System], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    system = start_system(task_max_retries=1, retry_backoff_max_seconds=0.1)
    runtime = system.runtime
    store = runtime.store
    write = store.upsert_chunks
    tries = itertools.count()
    read_only = threading.Event()
    read_only.set()

    def upsert(points: list[ChunkPoint], collection: str | None = None) -> None:
        next(tries)
        if read_only.is_set():
            raise OSError(errno.EROFS, "Read-only file system", str(runtime.settings.data_dir))
        write(points, collection)

    monkeypatch.setattr(store, "upsert_chunks", upsert)
    letters = runtime.settings.data_dir / "dead-letters.sqlite3"
    kept = letters.with_name("dead-letters.kept")
    letters.rename(kept)
    letters.mkdir()
    api = TestClient(create_app(runtime))

    with caplog.at_level(logging.INFO):
        (system.inbox / "tides.md").write_text(TIDES)
        ready = eventually(lambda: api.get("/readyz").status_code == 503 and api.get("/readyz").json(), 30)
        started = next(tries)
        time.sleep(5)
        tried = next(tries) - started - 1

    # Once the retry and the dead letter failed, the change waits 1, 2, 4 ... s between tries: a handful in
    # 5 s (two, or twice that when the start-up reconcile and the watcher both sent the file), not hundreds.
    assert tried <= 8, f"{tried} tries in 5 s"
    assert ready["problems"]["storage"].startswith(f"data dir not writable: {runtime.settings.data_dir}: ")
    assert "unable to open database file" in ready["problems"]["storage"]
    assert "freshrag_storage_writable 0.0" in api.get("/metrics").text
    reports = [record for record in caplog.records if "data dir not writable" in record.getMessage()]
    assert len(reports) == 1, [record.getMessage() for record in reports]
    assert not [record for record in caplog.records if record.exc_info], "no traceback per attempt"
    assert system.status_of("tides.md") is not DocStatus.INDEXED

    # The disk takes writes again: the waiting change lands, nothing was lost or dead-lettered.
    letters.rmdir()
    kept.rename(letters)
    read_only.clear()
    eventually(lambda: system.status_of("tides.md") is DocStatus.INDEXED, timeout=30)
    assert str(system.inbox / "tides.md") in system.searchable_docs("moon and oceans")
    assert api.get("/readyz").json() == {"status": "ready"}
    assert "freshrag_storage_writable 1.0" in api.get("/metrics").text
    assert runtime.dead_letters.count() == 0
