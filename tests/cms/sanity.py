"""Sanity (webhook-toolkit): t=<ms>,v1=<base64url without padding of HMAC-SHA256 of "<t>.<body>">."""

from __future__ import annotations

import base64
from pathlib import Path

from tests.cms.common import TEXT, Kit, Post, Request, Sample, hmac_sha256, load, message_id


def sign_sanity(body: bytes, secret: str, *, now: float) -> dict[str, str]:
    t = str(int(now * 1000))
    digest = hmac_sha256(secret.encode(), f"{t}.".encode() + body)
    return {"sanity-webhook-signature": f"t={t},v1=" + base64.urlsafe_b64encode(digest).decode().rstrip("=")}


def _sign(r: Request) -> dict[str, str]:
    return {"idempotency-key": message_id(r.delivery_id), **sign_sanity(r.body, r.secret, now=r.now)}


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
