"""Taking a webhook delivery in: verify, drop replays, read it, persist it, enqueue it.

A delivery is acknowledged only once what it changed is durable in the entry journal and its changes are
queued; anything that fails before that raises, so the CMS is told to send it again.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import parse_qs

import redis

from freshrag.documents import Change, Op, SourceKind
from freshrag.queue import ChangeQueue
from freshrag.settings import Settings
from freshrag.state.dead_letters import DeadLetters
from freshrag.state.entries import EntryJournal, StoredDoc
from freshrag.state.locks import DocumentLocks, LockTimeoutError
from freshrag.state.pushes import RepositoryPushRecord
from freshrag.webhooks.fields import merged_doc
from freshrag.webhooks.model import (
    Delivery,
    Entries,
    EntryDoc,
    EntryEvent,
    Ignored,
    PayloadError,
    RepositoryPush,
    SignatureError,
)
from freshrag.webhooks.platforms import PLATFORMS, delivery_id

log = logging.getLogger(__name__)
# A push's key in webhook answers ("github:repository:<owner/name>"), and the content type under which older
# versions journalled a push as if it were an entry.
REPOSITORY = "repository"


class JournalUnavailableError(RuntimeError):
    """The entry journal cannot be written: nothing was accepted (answered 503)."""


@dataclass(frozen=True)
class Receipt:
    """What was done with a delivery: accepted, duplicate, ignored or stale (older than what is stored)."""

    status: str
    documents: tuple[str, ...] = ()
    reason: str | None = None


class WebhookIntake:
    def __init__(
        self,
        settings: Settings,
        journal: EntryJournal,
        queue: ChangeQueue,
        locks: DocumentLocks,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._journal = journal
        self._queue = queue
        self._locks = locks
        self._clock = clock
        for platform in PLATFORMS.values():
            secret = settings.webhook_secret(platform.name)
            warning = platform.secret_warning(secret) if secret and platform.secret_warning else None
            if warning:
                log.warning("%s", warning)

    def receive(self, delivery: Delivery) -> Receipt:
        """Raises `SignatureError` (401), `PayloadError` (400), `JournalUnavailableError` or
        `BrokerUnavailableError` (503); anything returned is acknowledged with a 2xx."""
        source = delivery.source
        platform = PLATFORMS[source]
        self._verify(delivery)
        key = delivery_id(delivery)
        with _journal_errors():
            if key and self._journal.seen(source, key):
                return Receipt("duplicate", reason=f"delivery {key} was already applied")
        payload = parse_body(delivery)
        try:
            interpretation = platform.interpret(delivery, payload, self._settings.webhook_source(source))
        except (TypeError, AttributeError, KeyError, ValueError, IndexError, RecursionError) as exc:
            # A shape no platform sends (a list where an object belongs...): the sender's error, not ours.
            log.info("%s delivery with an unexpected shape: %r", source, exc)
            raise PayloadError(f"unexpected payload shape: {type(exc).__name__}: {exc}") from None
        if isinstance(interpretation, Ignored):
            receipt = Receipt("ignored", reason=interpretation.reason)
        elif isinstance(interpretation, RepositoryPush):
            receipt = self._push(interpretation, delivery.received_at)
        else:
            receipt = self._entries(interpretation, delivery.received_at)
        if key:
            with _journal_errors():
                self._journal.first_delivery(source, key, self._settings.webhook_replay_window_seconds)
        return receipt

    def _verify(self, delivery: Delivery) -> None:
        source = delivery.source
        secret = self._settings.webhook_secret(source)
        if secret is None:
            if self._settings.webhook_source(source).accept_unsigned:
                return
            raise SignatureError(
                f"no secret is configured for {source}: set FRESHRAG_WEBHOOK_SECRET_{source.upper()}"
            )
        PLATFORMS[source].verify(delivery, secret, self._clock(), self._settings.webhook_tolerance_seconds)

    def _entries(self, entries: Entries, received_at: float) -> Receipt:
        documents: list[str] = []
        merging = sorted({event.entry_key for event in entries.events if event.merged})
        with _journal_errors(), self._merging(merging):
            results = self._journal.put([self._completed(event) for event in entries.events], received_at)
        stale = results.count(None)
        for writes in results:
            for doc in writes or ():
                self._queue.submit(change_for(doc))
                documents.append(doc.doc_id)
        if stale and not documents:
            return Receipt("stale", reason="older than the version already stored; nothing changed")
        return Receipt("accepted", tuple(documents))

    @contextmanager
    def _merging(self, entry_keys: list[str]) -> Iterator[None]:
        """Hold the entries whose updates merge into their stored fields until their state is stored: two
        updates of one item at once (from any API process) each keep the other's fields, and a create or
        delete is never overwritten by an update that read the state before it."""
        with ExitStack() as stack:
            for key in entry_keys:  # in order: two deliveries naming the same items never deadlock
                stack.enter_context(self._locks.hold(f"webhook-merge:{key}"))
            yield

    def _completed(self, event: EntryEvent) -> EntryEvent:
        """A partial event's documents merged into the stored ones: a field it does not carry keeps its
        stored value. An edit of an entry known to be unpublished (a draft, archived) that does not say it
        publishes it keeps it unpublished: its documents are withheld. An entry never seen is taken as it
        comes. Merges are made one at a time (see `_merging`), and an unversioned one (Directus stamps no
        time) follows the state it merged into, whatever instant it was received at: it carries only its
        own fields, so it is never stale."""
        if not event.partial:
            return event
        mapping = self._settings.webhook_source(event.source).mapping(event.content_type)
        shown: list[EntryDoc] = []
        withheld: list[EntryDoc] = []
        version = event.version
        for doc, published in [(doc, True) for doc in event.docs] + [(doc, False) for doc in event.withheld]:
            stored = self._journal.get(doc.doc_id)
            if stored is not None and stored.fields is not None:
                doc = merged_doc(event, doc, stored.fields, mapping)
                version = version if event.versioned else max(version, stored.version + 1)
            elif stored is not None and stored.present:  # stored by a build that kept no fields: so is this
                doc = replace(doc, title=doc.title or stored.title, body=doc.body or stored.body, fields=None)
            keep_out = stored is not None and not stored.present and not event.says_published
            (shown if published and not keep_out else withheld).append(doc)
        return replace(event, version=version, docs=tuple(shown), withheld=tuple(withheld))

    def _push(self, push: RepositoryPush, received_at: float) -> Receipt:
        record = RepositoryPushRecord(push.repository, push.clone_url, push.ref, received_at)
        with _journal_errors():
            self._journal.pushes.put(record)
        self._queue.sync_repository(push.repository, push.clone_url, push.ref, received_at)
        return Receipt("accepted", (f"github:{REPOSITORY}:{push.repository}",))


def change_for(doc: StoredDoc) -> Change:
    """The change that makes the index hold `doc`'s journalled state."""
    op = Op.UPSERT if doc.present else Op.DELETE
    return Change(doc.doc_id, op, SourceKind.CMS, doc.uri or doc.doc_id, detected_at=doc.received_at)


def resubmit_unapplied(
    journal: EntryJournal, queue: ChangeQueue, received_before: float, *, dead_letters: DeadLetters
) -> int:
    """Enqueue again every journalled state received before `received_before` and not yet applied, and every
    push not yet pulled (after a crash, or when the queue refused it, or the remote was unreachable); returns
    how many. Each document waiting already is skipped, and so is each dead letter's: it is kept until
    replayed."""
    count = 0
    for doc in journal.unapplied(received_before):
        if doc.source == "github" and doc.content_type == REPOSITORY:
            _adopt_legacy_push(journal, doc)
        elif dead_letters.get(doc.doc_id) is None:
            count += queue.submit(change_for(doc))
    for push in journal.pushes.unpulled(received_before):
        queue.sync_repository(push.repository, push.clone_url, push.ref, push.received_at)
        count += 1
    return count


def _adopt_legacy_push(journal: EntryJournal, doc: StoredDoc) -> None:
    """A push journalled as an entry by an older version: moved into the push journal."""
    details = json.loads(doc.body)
    journal.pushes.put(RepositoryPushRecord(doc.title, details["clone_url"], details["ref"], doc.received_at))
    journal.mark_applied(doc.doc_id, doc.received_at)


def parse_body(delivery: Delivery) -> Any:
    """The JSON body (GitHub may send it form-encoded as `payload=`), or `PayloadError`."""
    body = delivery.body
    content_type = (delivery.header("content-type") or "").split(";")[0].strip().lower()
    if content_type == "application/x-www-form-urlencoded":
        values = parse_qs(body.decode("utf-8", "replace")).get("payload")
        if not values:
            raise PayloadError("a form-encoded body must carry the JSON in its 'payload' field")
        body = values[0].encode()
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise PayloadError(f"the body is not valid JSON: {exc}") from None
    try:  # JSON may escape lone surrogates ("\ud800"): text no store or model can take
        json.dumps(payload, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        raise PayloadError("the body contains an invalid Unicode escape (a lone surrogate)") from None
    return payload


@contextmanager
def _journal_errors() -> Iterator[None]:
    try:
        yield
    except (sqlite3.Error, redis.RedisError, OSError, LockTimeoutError) as exc:
        raise JournalUnavailableError(
            f"the webhook journal cannot be written ({type(exc).__name__}: {exc})"
        ) from exc
