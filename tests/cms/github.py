"""GitHub: X-Hub-Signature-256 = "sha256=" + hex HMAC-SHA256(secret, body); X-GitHub-Delivery names it."""

from __future__ import annotations

import hashlib
import hmac
import uuid

from tests.cms.common import Kit, Request


def sign_github(body: bytes, secret: str) -> dict[str, str]:
    return {"x-hub-signature-256": "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()}


def _sign(r: Request) -> dict[str, str]:
    return {"x-github-delivery": r.delivery_id or str(uuid.uuid4()), **sign_github(r.body, r.secret)}


KIT = Kit(
    name="github",
    secret="github-test-secret",
    signature_header="x-hub-signature-256",
    timed=False,
    sign=_sign,
)
