"""What every platform's test kit shares: the text the samples carry, deliveries and samples, and a kit's
shape. Each platform's kit is one module of this package (see `tests.cms`)."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

TEXT = (
    "The Brindlewood aqueduct carries meltwater forty kilometres to the terraced orchards of Valmora, "
    "where the apricot harvest depends on it every August."
)
QUERY = "Brindlewood aqueduct meltwater orchards"


@dataclass(frozen=True)
class Post:
    source: str
    payload: Any
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Sample:
    """A sample delivery; `doc_ids` it makes searchable (none when it is to be ignored) and the delivery
    that removes them."""

    name: str
    post: Post
    doc_ids: tuple[str, ...] = ()
    removal: Post | None = None


@dataclass(frozen=True)
class Request:
    """What a platform signs: the body and secret, the send time, and the request line and headers."""

    body: bytes
    secret: str
    now: float
    method: str
    target: str
    headers: Mapping[str, str]
    delivery_id: str | None


# The authentication headers of a request (and the platform's delivery id, where it sends one).
Signer = Callable[[Request], dict[str, str]]


def no_samples(root: Path) -> list[Sample]:
    return []


@dataclass(frozen=True)
class Kit:
    """One CMS platform as the tests see it: the secret they configure, the headers it signs with, written
    from the platform's own specification (never from `freshrag.webhooks.platforms`, so that signing here
    and verifying there checks one against the other), and sample deliveries built from the shared data."""

    name: str
    secret: str
    signature_header: str  # the header verification reads (lower case)
    timed: bool  # whether signatures carry a timestamp that goes stale
    sign: Signer
    samples: Callable[[Path], list[Sample]] = no_samples  # from ../shared/data/webhooks


def hmac_sha256(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, hashlib.sha256).digest()


def load(root: Path, name: str) -> Any:
    return json.loads((root / name).read_text())


def iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat().replace("+00:00", "Z")


def message_id(delivery_id: str | None) -> str:
    """The given delivery id, or a fresh one in the Standard Webhooks style."""
    return delivery_id or f"msg_{uuid.uuid4().hex}"


def sign_bearer(request: Request) -> dict[str, str]:
    """Platforms that send a bearer token rather than a signature (Strapi, Directus)."""
    return {"authorization": f"Bearer {request.secret}"}
