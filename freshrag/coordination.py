"""What processes share to cooperate on one queue: claims of waiting changes, document locks, the run lock,
dead letters, the journal of CMS entries, the health state (recent activity, check results, heartbeats),
feedback and the model registry. In memory (and SQLite) when embedded; in Redis, the broker itself, when
distributed.

The one place that picks a backend for each of them: every other module takes the store it is given. A
process talks to the broker's Redis through one client (one connection pool), whatever it opens.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass

import redis

from freshrag.backfill import BackfillProgress
from freshrag.queue import BrokerUnavailableError, ChangeQueue, make_client, queued_task_ids
from freshrag.settings import Settings
from freshrag.state.dead_letters import DeadLetters, RedisDeadLetters, SqliteDeadLetters
from freshrag.state.entries import EntryJournal, RedisEntryJournal, SqliteEntryJournal
from freshrag.state.feedback import FeedbackLog, RedisFeedbackLog, SqliteFeedbackLog
from freshrag.state.health import ANSWERS, CHANGES, QUERIES, HealthState, RedisHealthState, SqliteHealthState
from freshrag.state.locks import DocumentLocks, FileRunLock, InProcessLocks, RedisLocks, RedisRunLock, RunLock
from freshrag.state.pending import InProcessPending, PendingChanges, RedisPending
from freshrag.state.registry import RedisRegistry, Registry, SqliteRegistry

log = logging.getLogger(__name__)

# A claim younger than this may be between its claim and its send (microseconds apart, in one thread):
# never taken for stranded. Short, because a worker killed as it took a message is often restarted at once,
# and its start is when the loss is looked for.
STRANDED_AFTER_SECONDS = 1.0

_clients: dict[str, redis.Redis] = {}
_clients_guard = threading.Lock()


@dataclass(frozen=True)
class Coordination:
    queue: ChangeQueue
    pending: PendingChanges
    locks: DocumentLocks
    run_lock: RunLock
    dead_letters: DeadLetters
    journal: EntryJournal
    health: HealthState
    feedback: FeedbackLog
    registry: Registry


def redis_client(url: str) -> redis.Redis:
    """The process's one client of the Redis at `url`, shared by every store and lock (its pool is
    thread-safe, and starts afresh in a forked child). Connects lazily, on the first command."""
    with _clients_guard:
        client = _clients.get(url)
        if client is None:
            client = redis.Redis.from_url(
                url, socket_connect_timeout=3, socket_timeout=10, health_check_interval=30
            )
            _clients[url] = client
        return client


def open_registry(settings: Settings) -> Registry:
    """The model registry: `<data_dir>/models.sqlite3` when embedded, the broker's Redis when distributed."""
    if settings.embedded:
        return Registry(SqliteRegistry(settings.data_dir / "models.sqlite3"))
    return Registry(RedisRegistry(redis_client(settings.broker_url)))


def open_feedback(settings: Settings, client: redis.Redis | None) -> FeedbackLog:
    """SQLite under the data dir when embedded; the Redis list on `client` (the broker) when distributed."""
    if settings.embedded:
        return SqliteFeedbackLog(settings.data_dir / "feedback.sqlite3")
    if client is None:
        raise ValueError("distributed mode keeps feedback in Redis: pass the broker's client")
    return RedisFeedbackLog(client)


def open_coordination(settings: Settings) -> Coordination:
    """Connects lazily: nothing here fails when the broker is down, only the calls made later."""
    pending: PendingChanges
    locks: DocumentLocks
    run_lock: RunLock
    dead_letters: DeadLetters
    journal: EntryJournal
    health: HealthState
    caps = {CHANGES: 1000, QUERIES: max(2 * settings.drift_window, 1000), ANSWERS: 1000}
    client = None if settings.embedded else redis_client(settings.broker_url)
    if client is None:
        pending = InProcessPending(settings.task_expires_seconds, settings.reindex_interval_seconds)
        locks = InProcessLocks()
        run_lock = FileRunLock(settings.data_dir / "model-switch.lock")
        dead_letters = SqliteDeadLetters(settings.data_dir / "dead-letters.sqlite3")
        journal = SqliteEntryJournal(settings.data_dir / "webhooks.sqlite3")
        health = SqliteHealthState(settings.data_dir / "health.sqlite3", caps)
    else:
        pending = RedisPending(client, settings.task_expires_seconds, settings.reindex_interval_seconds)
        locks = RedisLocks(client)
        run_lock = RedisRunLock(client)
        dead_letters = RedisDeadLetters(client)
        journal = RedisEntryJournal(client)
        health = RedisHealthState(client, caps)
    queue = ChangeQueue(
        make_client(settings), pending, settings.task_expires_seconds, backfill=BackfillProgress(health)
    )
    return Coordination(
        queue,
        pending,
        locks,
        run_lock,
        dead_letters,
        journal,
        health,
        open_feedback(settings, client),
        open_registry(settings),
    )


def replay_dead_letters(dead_letters: DeadLetters, queue: ChangeQueue) -> int:
    """Enqueue every dead letter's change again; each letter goes once its change is safely queued (a
    failure of the replayed change writes a new one). Returns how many were replayed."""
    replayed = 0
    for letter in dead_letters.all():
        queue.submit(letter.change, coalesce=False)
        dead_letters.remove(letter)
        replayed += 1
    return replayed


def resend_stranded_changes(
    settings: Settings, queue: ChangeQueue, older_than: float = STRANDED_AFTER_SECONDS
) -> int:
    """Send again every change waiting (claimed more than `older_than` seconds ago) whose message is nowhere
    in the broker; returns how many.

    kombu's Redis transport takes a message off its queue (BRPOP) and records it as unacknowledged in a
    second command: a worker killed between the two loses the message for good, while the change's claim
    goes on saying it waits, and keeps every later change of the document from being sent (for the task
    expiry, a day by default). Run when a worker starts and with the scheduled reconcile. A message that a
    worker is taking at that very moment may be sent twice, which only costs a run that finds the document
    unchanged. Nothing to do when embedded: the queue and its claims live and die in one process."""
    if settings.embedded:
        return 0
    try:
        waiting = queue.pending.stranded(older_than)
        if not waiting:
            return 0
        present = queued_task_ids(redis_client(settings.broker_url))
        lost = [json.loads(message) for token, message in waiting.items() if token not in present]
        for message in lost:
            queue.resend(message)
    except (redis.RedisError, BrokerUnavailableError) as exc:
        log.warning("could not look for changes the broker lost (the next reconcile tries again): %s", exc)
        return 0
    if lost:
        log.warning(
            "sent %d changes again whose messages the broker lost (a worker killed as it took them): %s",
            len(lost),
            ", ".join(sorted(message["doc_id"] for message in lost)[:10]),
        )
    return len(lost)
