"""Indexing tasks: apply one change, reconcile a folder. Thin: the logic is in freshrag.pipeline."""

from __future__ import annotations

import logging
import random
import sqlite3
import time
from pathlib import Path
from typing import Any, Protocol

from celery.exceptions import Reject

from freshrag.backfill import BackfillProgress
from freshrag.coordination import resend_stranded_changes
from freshrag.documents import Change, Op, Origin, SourceKind
from freshrag.pipeline import IndexingInterrupted
from freshrag.queue import INDEX_DOCUMENT, RECONCILE_FOLDER, RECONCILE_WATCHED, SYNC_REPOSITORY, ChangeQueue
from freshrag.reconcile import folder_changes
from freshrag.repositories import GitError, clone_folder, pull
from freshrag.settings import Settings
from freshrag.sources import WatchedFolder
from freshrag.state.dead_letters import DeadLetters, dead_letter
from freshrag.state.entries import EntryJournal
from freshrag.state.health import HealthState
from freshrag.storage_health import StorageHealth
from freshrag.telemetry import Metrics
from freshrag.webhooks.intake import resubmit_unapplied
from workers.app import app, current_runtime

# Journalled CMS states older than this and not applied are enqueued again by the scheduled sweep: long
# enough that a change still on its way through the queue is not sent twice for nothing.
RESUBMIT_AFTER_SECONDS = 120.0
# When a change interrupted by a shutdown runs again: after the stopping worker is gone.
RESUME_AFTER_SECONDS = 15.0
# Longest wait between tries of a change whose dead letter the data dir could not take.
STORAGE_BACKOFF_MAX_SECONDS = 60.0

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
    runtime.queue.pending.started(parsed.doc_id, parsed.claim)
    try:
        outcome = runtime.indexer.apply(parsed)
    except IndexingInterrupted as exc:
        return _interrupted(runtime, parsed, attempt, exc)
    except Exception as exc:
        return _failed(runtime, parsed, attempt, exc)
    try:
        runtime.dead_letters.discard(parsed.doc_id)
    except (OSError, sqlite3.Error) as unwritable:  # the change is applied; only its old dead letter stays
        runtime.storage.failed(runtime.settings.data_dir, unwritable)
    else:
        if outcome.outcome != "stale":  # only a stale change writes nothing, so says nothing of the data dir
            runtime.storage.wrote()
    _backfill_done(runtime, parsed)
    # The source's record of the state indexed (a CMS entry's journalled state: it covers the deliveries
    # coalesced into this run), whatever the source is.
    outcome.ack()
    runtime.queue.pending.finished(parsed.doc_id, parsed.claim)
    return outcome.to_json()


class FailureServices(Protocol):
    """What settling a failed or interrupted change uses: the queue to retry it, the dead letters to
    park it, the journal and health state it is recorded in, and the data dir's storage health."""

    @property
    def settings(self) -> Settings: ...

    @property
    def queue(self) -> ChangeQueue: ...

    @property
    def dead_letters(self) -> DeadLetters: ...

    @property
    def storage(self) -> StorageHealth: ...

    @property
    def journal(self) -> EntryJournal: ...

    @property
    def metrics(self) -> Metrics: ...

    @property
    def health(self) -> HealthState: ...


def _backfill_done(services: FailureServices, change: Change) -> None:
    if change.origin is Origin.BACKFILL:
        BackfillProgress(services.health).done()


def _interrupted(
    services: FailureServices, change: Change, attempt: int, exc: IndexingInterrupted
) -> dict[str, Any]:
    """Not a failure of the change: send it again as the same attempt, due once this worker is gone (a
    message given back at once would come straight back to it while it stops). On Redis the next worker
    runs it; embedded, the queue ends with the process and the start-up reconcile or the journal finds it."""
    log.info("indexing %s interrupted by the shutdown, to be applied again: %s", change.uri, exc)
    try:
        services.queue.retry(change, attempt, RESUME_AFTER_SECONDS)
    except Exception as follow_up:
        raise Reject(follow_up, requeue=True) from exc
    return {"doc_id": change.doc_id, "outcome": "interrupted", "reason": str(exc)}


def _failed(services: FailureServices, change: Change, attempt: int, exc: Exception) -> dict[str, Any]:
    settings = services.settings
    try:
        if attempt > settings.task_max_retries:
            return _dead_letter(services, change, attempt, exc)
        countdown = _backoff(attempt - 1, settings.retry_backoff_max_seconds)
        if not services.queue.retry(change, attempt + 1, countdown):
            log.warning(
                "indexing %s failed (attempt %d), left to a later change's task: %s", change.uri, attempt, exc
            )
            return {"doc_id": change.doc_id, "outcome": "covered", "reason": str(exc)}
        log.warning(
            "indexing %s failed (attempt %d), retrying in %.1f s: %s", change.uri, attempt, countdown, exc
        )
        return {"doc_id": change.doc_id, "outcome": "retrying", "reason": str(exc)}
    except Exception as follow_up:
        # Neither a retry nor a dead letter could be stored (the broker is down too): leave the message
        # unacknowledged, so that the broker delivers it again.
        raise Reject(follow_up, requeue=True) from exc


def _dead_letter(services: FailureServices, change: Change, attempt: int, exc: Exception) -> dict[str, Any]:
    """Park `change` as a dead letter. If the data dir cannot take it (read-only, full), the change is
    tried again later, with a backoff that grows to `STORAGE_BACKOFF_MAX_SECONDS`: sending it back at once
    would spin on the same failed write, and dropping it would lose it."""
    try:
        services.dead_letters.add(dead_letter(change, exc, attempt))
    except (OSError, sqlite3.Error) as unwritable:
        services.storage.failed(services.settings.data_dir, unwritable)
        beyond = attempt - services.settings.task_max_retries
        services.queue.retry(change, attempt + 1, min(STORAGE_BACKOFF_MAX_SECONDS, 2.0 ** (beyond - 1)))
        return {"doc_id": change.doc_id, "outcome": "waiting_for_storage", "reason": str(unwritable)}
    services.storage.wrote()
    services.queue.pending.finished(change.doc_id, change.claim)
    log.error(
        "dead letter: %s failed %d times, last with %s: %s", change.uri, attempt, type(exc).__name__, exc
    )
    services.metrics.events.labels(change.source_kind.value, change.op.value, "dead_letter").inc()
    _backfill_done(services, change)
    return {"doc_id": change.doc_id, "outcome": "dead_letter", "reason": str(exc)}


@app.task(name=RECONCILE_FOLDER, acks_late=True, reject_on_worker_lost=True)
def reconcile_folder(folder: str, prefix: str = "", kind: str = SourceKind.FILE.value) -> int:
    """Enqueue whatever makes the index match `folder`; returns how many changes were enqueued."""
    runtime = current_runtime()
    watched = WatchedFolder.of(Path(folder), SourceKind(kind))
    changes = folder_changes(runtime.store, watched, runtime.rules, prefix)
    enqueued = sum(runtime.queue.submit(change) for change in changes)
    log.info("reconciled %s%s: %d changes", watched.path, f"/{prefix}" if prefix else "", enqueued)
    return enqueued


@app.task(name=RECONCILE_WATCHED)
def reconcile_watched() -> int:
    """The scheduled safety net: reconcile every watched folder and repository clone, enqueue again the
    journalled CMS states that were never applied, and send again the changes whose messages the broker
    lost."""
    runtime = current_runtime()
    count: int = sum(reconcile_folder(str(folder.path)) for folder in runtime.folders)
    clones = runtime.settings.data_dir / "repositories"
    if clones.is_dir():
        for clone in sorted(path for path in clones.iterdir() if (path / ".git").is_dir()):
            count += int(reconcile_folder(str(clone), kind=SourceKind.GIT.value))
    before = time.time() - RESUBMIT_AFTER_SECONDS
    count += resubmit_unapplied(runtime.journal, runtime.queue, before, dead_letters=runtime.dead_letters)
    return count + resend_stranded_changes(runtime.settings, runtime.queue)


@app.task(name=SYNC_REPOSITORY, acks_late=True, reject_on_worker_lost=True)
def sync_repository(repository: str, clone_url: str, ref: str, received_at: float) -> int:
    """Pull `ref` into the repository's clone and enqueue its changed files; returns how many. A failure
    (the remote unreachable, credentials refused) is logged and counted, and the journalled push is tried
    again by the scheduled sweep."""
    runtime = current_runtime()
    path = clone_folder(runtime.settings.data_dir, repository)
    try:
        with runtime.locks.hold(f"repository:{repository}"):
            pulled = pull(clone_url, ref, path, runtime.rules)
    except GitError as exc:
        log.error("pulling %s (%s) failed, the scheduled reconcile tries again: %s", repository, ref, exc)
        runtime.metrics.events.labels(SourceKind.GIT.value, Op.UPSERT.value, "failed").inc()
        return 0
    enqueued = sum(runtime.queue.submit(change) for change in pulled.changes)
    runtime.journal.pushes.mark_pulled(repository, received_at)
    log.info("pulled %s %s..%s: %d files changed", repository, pulled.previous, pulled.current, enqueued)
    return enqueued
