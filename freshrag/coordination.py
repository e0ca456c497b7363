"""What processes share to cooperate on one queue: claims of waiting changes, document locks, dead
letters, the journal of CMS entries and the health state (recent activity, check results, heartbeats). In
memory (and SQLite) when embedded; in Redis, the broker itself, when distributed."""

from __future__ import annotations

from dataclasses import dataclass

import redis

from freshrag.backfill import BackfillProgress
from freshrag.dead_letters import DeadLetters, RedisDeadLetters, SqliteDeadLetters
from freshrag.health.state import ANSWERS, CHANGES, QUERIES, HealthState, RedisHealthState, SqliteHealthState
from freshrag.locks import DocumentLocks, InProcessLocks, RedisLocks
from freshrag.pending import InProcessPending, PendingChanges, RedisPending
from freshrag.queue import ChangeQueue, make_client
from freshrag.settings import Settings
from freshrag.training.feedback import FeedbackLog, open_feedback
from freshrag.webhooks.entries import EntryJournal, RedisEntryJournal, SqliteEntryJournal


@dataclass(frozen=True)
class Coordination:
    queue: ChangeQueue
    pending: PendingChanges
    locks: DocumentLocks
    dead_letters: DeadLetters
    journal: EntryJournal
    health: HealthState
    feedback: FeedbackLog


def open_coordination(settings: Settings) -> Coordination:
    """Connects lazily: nothing here fails when the broker is down, only the calls made later."""
    pending: PendingChanges
    locks: DocumentLocks
    dead_letters: DeadLetters
    journal: EntryJournal
    health: HealthState
    feedback: FeedbackLog
    caps = {CHANGES: 1000, QUERIES: max(2 * settings.drift_window, 1000), ANSWERS: 1000}
    if settings.embedded:
        pending = InProcessPending(settings.task_expires_seconds, settings.reindex_interval_seconds)
        locks = InProcessLocks()
        dead_letters = SqliteDeadLetters(settings.data_dir / "dead-letters.sqlite3")
        journal = SqliteEntryJournal(settings.data_dir / "webhooks.sqlite3")
        health = SqliteHealthState(settings.data_dir / "health.sqlite3", caps)
        feedback = open_feedback(settings, None)
    else:
        client = redis.Redis.from_url(
            settings.broker_url, socket_connect_timeout=3, socket_timeout=10, health_check_interval=30
        )
        pending = RedisPending(client, settings.task_expires_seconds, settings.reindex_interval_seconds)
        locks = RedisLocks(client)
        dead_letters = RedisDeadLetters(client)
        journal = RedisEntryJournal(client)
        health = RedisHealthState(client, caps)
        feedback = open_feedback(settings, client)
    queue = ChangeQueue(
        make_client(settings), pending, settings.task_expires_seconds, backfill=BackfillProgress(health)
    )
    return Coordination(queue, pending, locks, dead_letters, journal, health, feedback)


def replay_dead_letters(dead_letters: DeadLetters, queue: ChangeQueue) -> int:
    """Enqueue every dead letter's change again; each letter goes once its change is safely queued (a
    failure of the replayed change writes a new one). Returns how many were replayed."""
    replayed = 0
    for letter in dead_letters.all():
        queue.submit(letter.change, coalesce=False)
        dead_letters.remove(letter)
        replayed += 1
    return replayed
