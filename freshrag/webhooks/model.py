"""What a webhook delivery is, and what freshrag reads out of one.

A platform module turns a verified `Delivery` into an `Interpretation`: the new state of one or more CMS
entries (`EntryEvent`), a push to a Git repository (`RepositoryPush`), or a reason to ignore it (`Ignored`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class SignatureError(Exception):
    """The delivery is not provably from the configured sender (answered 401); the message says why."""


class PayloadError(Exception):
    """The body is not what the platform sends (answered 400); the message names the field."""


@dataclass(frozen=True)
class Delivery:
    """One HTTP request as received: `headers` with lower-case names, `target` the path and query string
    exactly as requested (Contentful signs it), `body` the raw bytes (every HMAC is over them)."""

    source: str
    method: str
    target: str
    headers: Mapping[str, str]
    body: bytes
    received_at: float

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass(frozen=True)
class EntryDoc:
    """One searchable document made from an entry (one per locale where the entry has several). `body` is
    Markdown; when the payload does not carry the text, `fetch_url` says where the worker reads it.
    `fields` are the entry's own fields where a later partial update merges into them (Directus)."""

    doc_id: str
    title: str
    body: str
    uri: str = ""
    fetch_url: str | None = None
    fields: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class EntryEvent:
    """The new state of one entry. No `docs` means the entry is gone from search (deleted, unpublished,
    trashed or archived, or a draft: `withheld` then keeps its fields), and it is ordered as a removal.
    `version` orders events of one entry (milliseconds of the entry's own update time, or its revision):
    an older version never overwrites a newer one. `versioned` is False when the platform gave no such
    version and `version` is the time the event was sent or received instead: on another clock than the
    entry's, so a removal so stamped takes the entry's stored version (and wins that tie). `partial`
    events carry only the fields that changed: merged into the stored fields (or, for a state stored
    without them, a title or text they lack is the stored one), and, unless `says_published`, an entry
    known to be unpublished stays so. `entry_id` is the platform's id of the entry. `withheld` are the
    documents of an entry that is not published (a draft, archived): never searchable, but kept, so that a
    later partial update which publishes the entry has its fields. `merged` entries are those of a
    platform that sends only what changed (their fields are kept): their events are stored one at a time."""

    entry_key: str
    source: str
    content_type: str
    version: int
    docs: tuple[EntryDoc, ...] = ()
    versioned: bool = True
    partial: bool = False
    says_published: bool = True
    entry_id: str = ""
    withheld: tuple[EntryDoc, ...] = ()
    merged: bool = False

    @property
    def deleted(self) -> bool:
        return not self.docs


@dataclass(frozen=True)
class RepositoryPush:
    """Commits pushed to a Git repository: its changed files are pulled into a local clone and indexed."""

    repository: str
    clone_url: str
    ref: str
    after: str


@dataclass(frozen=True)
class Ignored:
    """A well-formed delivery with nothing to index (a draft, a media event, a ping); acknowledged."""

    reason: str


@dataclass(frozen=True)
class Entries:
    events: tuple[EntryEvent, ...] = field(default_factory=tuple)


Interpretation = Entries | RepositoryPush | Ignored
