"""Indexing tasks: apply one change, reconcile a folder. Thin: the logic is in freshrag.pipeline."""

from __future__ import annotations

import logging
import random
from dataclasses import asdict
from pathlib import Path
from typing import Any

from celery import Task

from freshrag.documents import Change
from freshrag.queue import INDEX_DOCUMENT, RECONCILE_FOLDER, RECONCILE_WATCHED
from freshrag.reconcile import folder_changes
from freshrag.sources import WatchedFolder
from workers.app import app, current_runtime

log = logging.getLogger(__name__)
MAX_RETRIES = 6


def _backoff(retries: int) -> float:
    """Exponential backoff with full jitter: up to 1, 2, 4 ... 60 seconds."""
    return random.uniform(0, min(60.0, 2.0**retries))


@app.task(name=INDEX_DOCUMENT, bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=MAX_RETRIES)
def index_document(self: Task, change: dict[str, Any]) -> dict[str, Any]:
    runtime = current_runtime()
    parsed = Change.from_message(change)
    runtime.queue.pending.release(parsed.doc_id)
    try:
        outcome = runtime.indexer.apply(parsed)
    except Exception as exc:
        log.warning("indexing %s failed (attempt %d): %s", parsed.uri, self.request.retries + 1, exc)
        raise self.retry(exc=exc, countdown=_backoff(self.request.retries)) from exc
    return asdict(outcome)


@app.task(name=RECONCILE_FOLDER, acks_late=True, reject_on_worker_lost=True)
def reconcile_folder(folder: str, prefix: str = "") -> int:
    """Enqueue whatever makes the index match `folder`; returns how many changes were enqueued."""
    runtime = current_runtime()
    watched = WatchedFolder.of(Path(folder))
    changes = folder_changes(runtime.store, watched, runtime.rules, prefix)
    enqueued = sum(runtime.queue.submit(change) for change in changes)
    log.info("reconciled %s%s: %d changes", watched.path, f"/{prefix}" if prefix else "", enqueued)
    return enqueued


@app.task(name=RECONCILE_WATCHED)
def reconcile_watched() -> int:
    """The scheduled safety net: reconcile every folder this process is configured to watch."""
    runtime = current_runtime()
    return sum(reconcile_folder(str(folder.path)) for folder in runtime.folders)
