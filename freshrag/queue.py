"""Task names, the Celery configuration, and enqueueing changes by task name.

Ingress (watcher, API) enqueues through `ChangeQueue` and never imports task code; workers register the
tasks under these names. A change is enqueued only if its document has no change already waiting
(coalescing, see `freshrag.state.pending`); a live change that is part of a burst is sent as a backfill (see
`freshrag.backfill`).
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import redis
from celery import Celery
from celery.schedules import crontab
from kombu.exceptions import OperationalError

from freshrag.backfill import BackfillProgress, BurstDetector
from freshrag.documents import Change, Origin
from freshrag.settings import Settings, cron_fields
from freshrag.state.pending import PendingChanges

INDEX_DOCUMENT = "freshrag.index_document"
RECONCILE_FOLDER = "freshrag.reconcile_folder"
RECONCILE_WATCHED = "freshrag.reconcile_watched"
SYNC_REPOSITORY = "freshrag.sync_repository"
CANARY = "freshrag.canary"
MEASURE_DRIFT = "freshrag.measure_drift"
EVALUATE_GOLDEN_SET = "freshrag.evaluate_golden_set"
FINETUNE_CHECK = "freshrag.finetune_check"
FINETUNE = "freshrag.finetune"
SWITCH_MODEL = "freshrag.switch_model"
POLL_OPENAI_JOBS = "freshrag.poll_openai_jobs"
INDEXING_QUEUE = "freshrag.indexing"
# Fine-tune runs and model switches take minutes: a queue of their own, so they never hold up indexing.
TRAINING_QUEUE = "freshrag.training"
QUEUES = (INDEXING_QUEUE, TRAINING_QUEUE)
TRAINING_TASKS = (FINETUNE_CHECK, FINETUNE, SWITCH_MODEL, POLL_OPENAI_JOBS)
RETRY_AFTER_SECONDS = 5


class BrokerUnavailableError(RuntimeError):
    """The queue cannot take the change right now; the caller keeps it and tries again later."""


def celery_config(settings: Settings) -> dict[str, Any]:
    """The Celery settings every freshrag process shares (producers and workers alike)."""
    transport: dict[str, Any] = {}
    if settings.embedded:
        transport["polling_interval"] = 0.02  # the in-process queue: latency matters, polling is cheap
    else:
        transport |= {
            # A task taken by a worker that died is delivered again once this long has passed, checked
            # every 10 s (kombu's default checks every 100 s and waits an hour).
            "visibility_timeout": settings.broker_visibility_timeout_seconds,
            "unacked_restore_interval": 10,
            "unacked_restore_throttle": 1,
            "socket_connect_timeout": 3,
        }
    return {
        "broker_url": settings.broker_url,
        # Celery copies broker_url into these once, at first configuration: set them, so that binding
        # another runtime in the same process (tests, benchmarks) really moves every connection.
        "broker_read_url": settings.broker_url,
        "broker_write_url": settings.broker_url,
        "broker_transport_options": transport,
        "broker_connection_retry_on_startup": True,
        "broker_connection_max_retries": None,  # a worker waits for the broker as long as it takes
        # Ingress learns quickly that the broker is down, and keeps the change to send it again later.
        "task_publish_retry_policy": {"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5},
        "task_default_queue": INDEXING_QUEUE,
        "task_routes": {task: {"queue": TRAINING_QUEUE} for task in TRAINING_TASKS},
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
    """The periodic tasks: the reconcile safety net, the monitoring checks and the polling of OpenAI jobs,
    each skipped when its interval is 0, and the fine-tune check on its cron schedule. Each run expires after
    one interval, so a stopped worker never finds a pile of stale runs."""
    periodic = {
        "reconcile-watched-folders": (RECONCILE_WATCHED, settings.reconcile_interval_seconds),
        "canary": (CANARY, settings.canary_interval_seconds),
        "measure-drift": (MEASURE_DRIFT, settings.drift_interval_seconds),
        # Scheduled whatever the scheduler's own settings say: the workers that run it have the golden set
        # (FRESHRAG_GOLDEN_SET), and one without it skips the run.
        "evaluate-golden-set": (EVALUATE_GOLDEN_SET, settings.golden_interval_seconds),
        # Polled whatever the scheduler knows: a worker without FRESHRAG_OPENAI_API_KEY has nothing to poll.
        "poll-openai-jobs": (POLL_OPENAI_JOBS, settings.openai_poll_seconds),
    }
    schedule: dict[str, Any] = {
        name: {"task": task, "schedule": interval, "options": {"expires": interval}}
        for name, (task, interval) in periodic.items()
        if interval > 0
    }
    if settings.finetune_schedule:
        minute, hour, day_of_month, month, day_of_week = cron_fields(settings.finetune_schedule)
        schedule["finetune-check"] = {
            "task": FINETUNE_CHECK,
            "schedule": crontab(minute, hour, day_of_week, day_of_month, month),
            "options": {"expires": 3600},
        }
    return schedule


def make_client(settings: Settings) -> Celery:
    """A Celery app used only to send tasks by name."""
    client = Celery("freshrag-client", set_as_current=False)  # never the app that task code resolves to
    client.conf.update(celery_config(settings))
    return client


class ChangeQueue:
    """Enqueues index and reconcile tasks by name, with an expiry on every message."""

    def __init__(
        self,
        client: Celery,
        pending: PendingChanges,
        expires_seconds: float,
        backfill: BackfillProgress | None = None,
        bursts: BurstDetector | None = None,
    ) -> None:
        self._client = client
        self._pending = pending
        self._expires = expires_seconds
        self._backfill = backfill
        self._bursts = bursts or BurstDetector()

    @property
    def pending(self) -> PendingChanges:
        return self._pending

    def submit(self, change: Change, *, coalesce: bool = True) -> bool:
        """Enqueue `change` unless one for the same document is already waiting; True if enqueued.
        Raises `BrokerUnavailableError` when the queue cannot take it. Resending a change that failed
        to send passes `coalesce=False`: its claim may have outlived the failed send."""
        change = replace(self._bursts.classify(change), claim=uuid.uuid4().hex)
        message = change.to_message()
        with _broker_errors():
            wait = self._pending.claim(change.doc_id, change.detected_at, change.claim, json.dumps(message))
            if wait is None and coalesce:
                return False
            try:
                self._send(message, countdown=wait or None)
            except BaseException:
                with contextlib.suppress(Exception):
                    self._pending.finished(change.doc_id, change.claim)
                raise
        if change.origin is Origin.BACKFILL and self._backfill is not None:
            self._backfill.queued()
        return True

    def resend(self, message: dict[str, Any]) -> None:
        """Send a change's message again as it was first sent, under its claim (a message the broker lost:
        see `freshrag.coordination.resend_stranded_changes`)."""
        with _broker_errors():
            self._send(message)

    def _send(self, message: dict[str, Any], countdown: float | None = None, attempt: int = 1) -> None:
        self._client.send_task(
            INDEX_DOCUMENT,
            kwargs={"change": message} | ({"attempt": attempt} if attempt > 1 else {}),
            kwargsrepr=message["doc_id"],  # what logs show; saves Celery a repr of every message
            task_id=message["claim"],  # so the broker's copy can be found by its claim
            queue=INDEXING_QUEUE,
            countdown=countdown,
            expires=self._expires,
        )

    def retry(self, change: Change, attempt: int, countdown: float) -> bool:
        """Send `change` again as attempt number `attempt`, to run in `countdown` seconds, under the claim its
        run held: the claim goes back to waiting (see `PendingChanges.retrying`), so the change is still
        pending, not gone. Returns False, sending nothing, when the task of a change made during the run is
        waiting already: it re-reads the source, so it covers this one."""
        with _broker_errors():
            if not self._pending.retrying(change.doc_id, change.detected_at, change.claim):
                return False
            self._send(change.to_message(), countdown=countdown, attempt=attempt)
        return True

    def reconcile(self, folder: str, prefix: str = "") -> None:
        """Ask a worker to compare `folder` (or its sub-folder `prefix`) with the index."""
        with _broker_errors():
            self._client.send_task(
                RECONCILE_FOLDER,
                kwargs={"folder": folder, "prefix": prefix},
                queue=INDEXING_QUEUE,
                expires=self._expires,
            )

    def sync_repository(self, repository: str, clone_url: str, ref: str, received_at: float) -> None:
        """Ask a worker to pull `ref` of `repository` into its local clone and index what changed."""
        with _broker_errors():
            self._client.send_task(
                SYNC_REPOSITORY,
                kwargs={
                    "repository": repository,
                    "clone_url": clone_url,
                    "ref": ref,
                    "received_at": received_at,
                },
                queue=INDEXING_QUEUE,
                expires=self._expires,
            )

    def request(self, task: str, **kwargs: Any) -> None:
        """Ask a worker to run `task` (a fine-tune run, a model switch) by name."""
        with _broker_errors():
            self._client.send_task(task, kwargs=kwargs, queue=TRAINING_QUEUE, expires=self._expires)

    def ping(self) -> None:
        """Raise `BrokerUnavailableError` if the broker cannot be reached."""
        with _broker_errors(), self._client.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1)


def queued_task_ids(client: redis.Redis) -> set[str]:
    """The ids of every task message in the Redis broker at `client`: waiting in one of freshrag's queues
    (each priority a list of its own) or delivered to a worker and not yet acknowledged (kombu's `unacked`
    hash, from which a dead worker's messages are delivered again after the visibility timeout)."""
    keys = [queue + suffix for queue in QUEUES for suffix in _PRIORITY_SUFFIXES]
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.lrange(key, 0, -1)
    pipe.hvals(_UNACKED)
    *queued, unacked = pipe.execute()
    ids = set()
    for raw in [item for items in queued for item in items]:
        ids.add(_task_id(json.loads(raw)))
    for raw in unacked:
        ids.add(_task_id(json.loads(raw)[0]))  # [message, exchange, routing key]
    ids.discard("")
    return ids


# kombu's Redis transport: a queue's messages of priority p > 0 sit in the list "<queue>\x06\x16<p>" (priority
# steps 0, 3, 6, 9), and messages delivered but not acknowledged in the hash "unacked".
_PRIORITY_SUFFIXES = ("", "\x06\x163", "\x06\x166", "\x06\x169")
_UNACKED = "unacked"


def _task_id(message: Any) -> str:
    headers = message.get("headers") if isinstance(message, dict) else None
    return str(headers.get("id", "")) if isinstance(headers, dict) else ""


@contextmanager
def _broker_errors() -> Iterator[None]:
    try:
        yield
    except (OperationalError, redis.RedisError, ConnectionError) as exc:
        raise BrokerUnavailableError(f"the broker is unreachable ({type(exc).__name__}: {exc})") from exc
