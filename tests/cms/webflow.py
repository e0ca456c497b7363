"""Webflow ("Verifying requests"): x-webflow-signature = hex HMAC-SHA256(secret, timestamp + ":" + body),
the timestamp in ms in x-webflow-timestamp."""

from __future__ import annotations

from tests.cms.common import Kit, Request, hmac_sha256


def sign_webflow(body: bytes, secret: str, *, now: float) -> dict[str, str]:
    ts = str(int(now * 1000))
    signature = hmac_sha256(secret.encode(), f"{ts}:".encode() + body).hex()
    return {"x-webflow-timestamp": ts, "x-webflow-signature": signature}


def _sign(r: Request) -> dict[str, str]:
    return sign_webflow(r.body, r.secret, now=r.now)


KIT = Kit(
    name="webflow",
    secret="webflow-test-secret",
    signature_header="x-webflow-signature",
    timed=True,
    sign=_sign,
)
