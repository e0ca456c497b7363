"""The tests' side of every CMS platform: one module per platform (its test secret, its signing written from
the platform's specification, its sample deliveries from ../shared/data/webhooks), found here by name. A
platform added to `freshrag.webhooks.platforms` gets its kit as one new module of this package.
Header names are returned lower-case; HTTP treats them case-insensitively."""

from __future__ import annotations

import importlib
import json
import pkgutil
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from tests.cms.common import QUERY, TEXT, Kit, Post, Request, Sample

__all__ = [
    "KITS",
    "QUERY",
    "SECRETS",
    "SECRET_ENV",
    "TEXT",
    "Post",
    "Sample",
    "all_samples",
    "deliver",
    "sign",
]


def _kits() -> dict[str, Kit]:
    kits = {}
    for module in pkgutil.iter_modules(__path__):
        if module.name != "common":
            kit: Kit = importlib.import_module(f"{__name__}.{module.name}").KIT
            kits[kit.name] = kit
    return kits


KITS = _kits()
SECRETS = {name: kit.secret for name, kit in KITS.items()}
SECRET_ENV = {f"FRESHRAG_WEBHOOK_SECRET_{name.upper()}": secret for name, secret in SECRETS.items()}


def sign(
    source: str,
    body: bytes,
    secret: str,
    *,
    now: float,
    method: str = "POST",
    target: str = "/webhooks/x",
    headers: Mapping[str, str] | None = None,
    delivery_id: str | None = None,
) -> dict[str, str]:
    """All headers of a delivery from `source`: `headers` (signed too, for Contentful) plus authentication and
    the platform's delivery id (`delivery_id`, or a fresh one) where it sends one."""
    if source not in KITS:
        raise ValueError(f"no signer for source {source!r}")
    extra = {key.lower(): value for key, value in (headers or {}).items()}
    auth = KITS[source].sign(Request(body, secret, now, method, target, extra, delivery_id))
    return {**extra, **auth}


def deliver(
    send: Callable[..., Any], post: Post, *, secret: str | None = None, now: float | None = None
) -> Any:
    """POST `post` signed as its platform signs, through `send(url, content=, headers=)`."""
    body = json.dumps(post.payload).encode()
    target = f"/webhooks/{post.source}"
    secret = SECRETS[post.source] if secret is None else secret
    headers = sign(post.source, body, secret, now=now or time.time(), target=target, headers=post.headers)
    headers.setdefault("content-type", "application/json")
    return send(target, content=body, headers=headers)


def all_samples(data: Path) -> list[Sample]:
    """Every platform's sample deliveries, from the shared data folder `data` (../shared/data)."""
    return [sample for kit in KITS.values() for sample in kit.samples(data / "webhooks")]
