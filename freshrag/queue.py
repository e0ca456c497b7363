"""Task names, the Celery configuration, and enqueueing changes by task name.

Ingress (watcher, API) enqueues through `ChangeQueue` and never imports task code; workers register the
tasks under these names. A change is enqueued only if its document has no change already waiting
(coalescing): the worker re-reads the source, so one waiting task covers any number of changes.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from celery import Celery

from freshrag.documents import Change
from freshrag.settings import Settings

INDEX_DOCUMENT = "freshrag.index_document"
RECONCILE_FOLDER = "freshrag.reconcile_folder"
RECONCILE_WATCHED = "freshrag.reconcile_watched"
INDEXING_QUEUE = "freshrag.indexing"


def celery_config(settings: Settings) -> dict[str, Any]:
    """The Celery settings every freshrag process shares (producers and workers alike)."""
    transport: dict[str, Any] = {}
    if settings.embedded:
        transport["polling_interval"] = 0.02  # the in-process queue: latency matters, polling is cheap
    else:
        transport["visibility_timeout"] = 3600
    return {
        "broker_url": settings.broker_url,
        "broker_transport_options": transport,
        "broker_connection_retry_on_startup": True,
        "task_default_queue": INDEXING_QUEUE,
        "task_serializer": "json",
        "accept_content": ["json"],
        "task_ignore_result": True,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "worker_hijack_root_logger": False,
        "beat_schedule": beat_schedule(settings),
    }


def beat_schedule(settings: Settings) -> dict[str, Any]:
    if settings.reconcile_interval_seconds <= 0:
        return {}
    return {
        "reconcile-watched-folders": {
            "task": RECONCILE_WATCHED,
            "schedule": settings.reconcile_interval_seconds,
            "options": {"expires": settings.reconcile_interval_seconds},
        }
    }


def make_client(settings: Settings) -> Celery:
    """A Celery app used only to send tasks by name."""
    client = Celery("freshrag-client")
    client.conf.update(celery_config(settings))
    return client


class PendingChanges:
    """Documents with a change waiting in the queue, and since when (in-process, for the embedded mode).

    A claim older than the task expiry no longer blocks a new one, so a lost message cannot silence a
    document for good.
    """

    def __init__(self, ttl_seconds: float) -> None:
        self._ttl = ttl_seconds
        self._lock = threading.Lock()
        self._claims: dict[str, tuple[float, float]] = {}  # doc_id -> (detected_at, claimed_at)

    def claim(self, doc_id: str, detected_at: float) -> bool:
        """Mark `doc_id` pending; False when a change of it is already waiting."""
        now = time.time()
        with self._lock:
            held = self._claims.get(doc_id)
            if held is not None and now - held[1] < self._ttl:
                return False
            self._claims[doc_id] = (detected_at, now)
            return True

    def release(self, doc_id: str) -> None:
        """The worker has started on `doc_id`: later changes need a task of their own."""
        with self._lock:
            self._claims.pop(doc_id, None)

    def waiting(self, doc_id: str) -> float | None:
        """When the waiting change of `doc_id` was detected, or None when none waits."""
        with self._lock:
            held = self._claims.get(doc_id)
        return held[0] if held else None

    def depth(self) -> int:
        with self._lock:
            return len(self._claims)

    def oldest_age(self) -> float:
        with self._lock:
            oldest = min((detected for detected, _ in self._claims.values()), default=None)
        return 0.0 if oldest is None else max(time.time() - oldest, 0.0)


class ChangeQueue:
    """Enqueues index and reconcile tasks by name, with an expiry on every message."""

    def __init__(self, client: Celery, pending: PendingChanges, expires_seconds: float) -> None:
        self._client = client
        self._pending = pending
        self._expires = expires_seconds

    @property
    def pending(self) -> PendingChanges:
        return self._pending

    def submit(self, change: Change) -> bool:
        """Enqueue `change` unless one for the same document is already waiting; True if enqueued."""
        if not self._pending.claim(change.doc_id, change.detected_at):
            return False
        try:
            self._client.send_task(
                INDEX_DOCUMENT,
                kwargs={"change": change.to_message()},
                queue=INDEXING_QUEUE,
                expires=self._expires,
            )
        except Exception:
            self._pending.release(change.doc_id)
            raise
        return True

    def reconcile(self, folder: str, prefix: str = "") -> None:
        """Ask a worker to compare `folder` (or its sub-folder `prefix`) with the index."""
        self._client.send_task(
            RECONCILE_FOLDER,
            kwargs={"folder": folder, "prefix": prefix},
            queue=INDEXING_QUEUE,
            expires=self._expires,
        )

    def ping(self) -> None:
        """Raise if the broker cannot be reached."""
        with self._client.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1)
