"""Sanity (webhook-toolkit): t=<ms>,v1=<base64url without padding of HMAC-SHA256 of "<t>.<body>">."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from pathlib import Path

from tests.cms.common import TEXT, Kit, Post, Sample, hmac_sha256, load, message_id


def sign_sanity(body: bytes, secret: str, *, now: float) -> dict[str, str]:
    t = str(int(now * 1000))
    digest = hmac_sha256(secret.encode(), f"{t}.".encode() + body)
    return {"sanity-webhook-signature": f"t={t},v1=" + base64.urlsafe_b64encode(digest).decode().rstrip("=")}


def _sign(
    body: bytes,
    secret: str,
    *,
    now: float,
    method: str,
    target: str,
    headers: Mapping[str, str],
    delivery_id: str | None,
) -> dict[str, str]:
    return {"idempotency-key": message_id(delivery_id), **sign_sanity(body, secret, now=now)}


def samples(root: Path) -> list[Sample]:
    payload = load(root, "sanity/document.internalFaq.full-document-body.json")
    payload["body"][0]["children"][0]["text"] = TEXT
    removal = Post("sanity", payload, {"sanity-operation": "delete"})
    doc_id = f"sanity:internalFaq:{payload['_id']}"
    return [Sample("sanity/full-document", Post("sanity", payload), (doc_id,), removal)]


KIT = Kit(
    name="sanity",
    secret="sanity-test-secret",
    signature_header="sanity-webhook-signature",
    timed=True,
    sign=_sign,
    samples=samples,
)
