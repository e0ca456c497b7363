"""Indexing tasks: apply one change, reconcile a folder. Thin: the logic is in freshrag.pipeline."""

from __future__ import annotations

import logging
import random
from dataclasses import asdict
from pathlib import Path
from typing import Any

from celery.exceptions import Reject

from freshrag.dead_letters import dead_letter
from freshrag.documents import Change
from freshrag.queue import INDEX_DOCUMENT, RECONCILE_FOLDER, RECONCILE_WATCHED
from freshrag.reconcile import folder_changes
from freshrag.runtime import Runtime
from freshrag.sources import WatchedFolder
from workers.app import app, current_runtime

log = logging.getLogger(__name__)


def _backoff(retries: int, longest: float) -> float:
    """Exponential backoff with full jitter: a random wait of up to 1, 2, 4 ... `longest` seconds."""
    return random.uniform(0, min(longest, 2.0**retries))


@app.task(name=INDEX_DOCUMENT, acks_late=True, reject_on_worker_lost=True)
def index_document(change: dict[str, Any], attempt: int = 1) -> dict[str, Any]:
    """Apply one change. A failure is sent again with backoff; after the last retry the change becomes a
    dead letter (shown by status, /documents?status=failed and the metrics). Either way this message is
    acknowledged only once its follow-up is safely stored."""
    runtime = current_runtime()
    parsed = Change.from_message(change)
    runtime.queue.pending.started(parsed.doc_id)
    try:
        outcome = runtime.indexer.apply(parsed)
    except Exception as exc:
        return _failed(runtime, parsed, attempt, exc)
    runtime.dead_letters.discard(parsed.doc_id)
    return asdict(outcome)


def _failed(runtime: Runtime, change: Change, attempt: int, exc: Exception) -> dict[str, Any]:
    settings = runtime.settings
    try:
        if attempt > settings.task_max_retries:
            log.error(
                "dead letter: %s failed %d times, last with %s: %s",
                change.uri,
                attempt,
                type(exc).__name__,
                exc,
            )
            runtime.dead_letters.add(dead_letter(change, exc, attempt))
            runtime.metrics.events.labels(change.source_kind.value, change.op.value, "dead_letter").inc()
            return {"doc_id": change.doc_id, "outcome": "dead_letter", "reason": str(exc)}
        countdown = _backoff(attempt - 1, settings.retry_backoff_max_seconds)
        log.warning(
            "indexing %s failed (attempt %d), retrying in %.1f s: %s", change.uri, attempt, countdown, exc
        )
        runtime.queue.retry(change, attempt + 1, countdown)
        return {"doc_id": change.doc_id, "outcome": "retrying", "reason": str(exc)}
    except Exception as follow_up:
        # Neither a retry nor a dead letter could be stored (the broker is down too): leave the message
        # unacknowledged, so that the broker delivers it again.
        raise Reject(follow_up, requeue=True) from exc


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
