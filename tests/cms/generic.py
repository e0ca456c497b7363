"""Standard Webhooks (the generic source): v1,<base64 HMAC-SHA256 of "<id>.<unix seconds>.<body>">; the key is
the secret's base64, after its optional whsec_ prefix."""

from __future__ import annotations

import base64
import time
from dataclasses import replace
from pathlib import Path

from tests.cms.common import TEXT, Kit, Post, Request, Sample, hmac_sha256, iso, message_id


def sign_standard(body: bytes, secret: str, *, now: float, msg_id: str) -> dict[str, str]:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    timestamp = str(int(now))
    signed = hmac_sha256(key, msg_id.encode() + b"." + timestamp.encode() + b"." + body)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": timestamp,
        "webhook-signature": "v1," + base64.b64encode(signed).decode(),
    }


def _sign(r: Request) -> dict[str, str]:
    return sign_standard(r.body, r.secret, now=r.now, msg_id=message_id(r.delivery_id))


def samples(root: Path) -> list[Sample]:
    data = {
        "id": "faq-12",
        "content_type": "faq",
        "title": "Orchards",
        "text": TEXT,
        "url": "https://x/faq-12",
    }
    upsert = {"type": "document.updated", "timestamp": iso(time.time() - 60), "data": data}
    removal = {
        "type": "document.deleted",
        "timestamp": iso(time.time()),
        "data": {"id": "faq-12", "content_type": "faq"},
    }
    sample = Sample("generic/document.updated", Post("generic", upsert), ("generic:faq:faq-12",))
    return [replace(sample, removal=Post("generic", removal))]


KIT = Kit(
    name="generic",
    secret="whsec_" + base64.b64encode(b"generic-test-secret-0123456789ab").decode(),
    signature_header="webhook-signature",
    timed=True,
    sign=_sign,
    samples=samples,
)
