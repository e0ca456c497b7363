"""What a webhook delivery is, and what freshrag reads out of one.

A platform module turns a verified `Delivery` into an `Interpretation`: the new state of one or more CMS
entries (`EntryEvent`), a push to a Git repository (`RepositoryPush`), or a reason to ignore it (`Ignored`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

# The entry's new state is what the journal keeps; platforms build it here.
from freshrag.state.entries import EntryDoc, EntryEvent

__all__ = [
    "Delivery",
    "Entries",
    "EntryDoc",
    "EntryEvent",
    "Ignored",
    "Interpretation",
    "PayloadError",
    "RepositoryPush",
    "SignatureError",
]


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
