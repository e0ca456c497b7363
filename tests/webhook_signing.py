"""Headers that each CMS would send with a delivery, signed as its own documentation and toolkits sign them.

Written from the platforms' specifications (Standard Webhooks, GitHub docs, contentful/node-apps-toolkit
signRequest, sanity-io/webhook-toolkit, Ghost's webhook-trigger.js, WP Webhooks, Webflow's "Verifying
requests"), not from
`freshrag.webhooks.platforms`, so that a test signing here and verifying there checks one against the other.
Header names are returned lower-case; HTTP treats them case-insensitively.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from collections.abc import Mapping
from urllib.parse import quote

# Characters Node leaves alone: querystring.escape (like encodeURIComponent) and encodeURI.
_NODE_QS_ESCAPE_SAFE = "-_.!~*'()"
_NODE_ENCODE_URI_SAFE = "-_.!~*'();/?:@&=+$,#"


def _hmac_sha256(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, hashlib.sha256).digest()


def sign_standard(body: bytes, secret: str, *, now: float, msg_id: str) -> dict[str, str]:
    """Standard Webhooks: v1,<base64 HMAC-SHA256 of "<id>.<unix seconds>.<body>">; the key is the secret's
    base64, after its optional whsec_ prefix."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    timestamp = str(int(now))
    signed = _hmac_sha256(key, msg_id.encode() + b"." + timestamp.encode() + b"." + body)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": timestamp,
        "webhook-signature": "v1," + base64.b64encode(signed).decode(),
    }


def sign_github(body: bytes, secret: str) -> dict[str, str]:
    """GitHub: X-Hub-Signature-256 = "sha256=" + hex HMAC-SHA256(secret, body)."""
    return {"x-hub-signature-256": "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()}


def sign_contentful(
    method: str, target: str, headers: Mapping[str, str], body: bytes, secret: str, *, now: float
) -> dict[str, str]:
    """Contentful (node-apps-toolkit signRequest): signs every given header, the timestamp and the list."""
    pathname, *rest = target.split("?")  # JS `const [pathname, search] = uri.split('?')`
    search = rest[0] if rest else ""
    path = pathname + "?" + quote(search, safe=_NODE_QS_ESCAPE_SAFE) if search else pathname
    path = quote(path, safe=_NODE_ENCODE_URI_SAFE)
    normalized = {key.lower().strip(): value.strip() for key, value in headers.items()}
    normalized["x-contentful-timestamp"] = str(int(now * 1000))
    normalized["x-contentful-signed-headers"] = ",".join(sorted({*normalized, "x-contentful-signed-headers"}))
    ordered = sorted(normalized.items())
    canonical = "\n".join([method, path, ";".join(f"{k}:{v}" for k, v in ordered), body.decode()])
    signature = hmac.new(secret.encode(), canonical.encode(), hashlib.sha256).hexdigest()
    return {
        "x-contentful-signature": signature,
        "x-contentful-signed-headers": normalized["x-contentful-signed-headers"],
        "x-contentful-timestamp": normalized["x-contentful-timestamp"],
    }


def sign_sanity(body: bytes, secret: str, *, now: float) -> dict[str, str]:
    """Sanity (webhook-toolkit): t=<ms>,v1=<base64url without padding of HMAC-SHA256 of "<t>.<body>">."""
    t = str(int(now * 1000))
    digest = _hmac_sha256(secret.encode(), f"{t}.".encode() + body)
    return {"sanity-webhook-signature": f"t={t},v1=" + base64.urlsafe_b64encode(digest).decode().rstrip("=")}


def sign_ghost(body: bytes, secret: str, *, now: float) -> dict[str, str]:
    """Ghost (webhook-trigger.js): sha256=<hex HMAC-SHA256(secret, body + ts)>, t=<ts> with ts in ms."""
    ts = str(int(now * 1000))
    return {"x-ghost-signature": f"sha256={_hmac_sha256(secret.encode(), body + ts.encode()).hex()}, t={ts}"}


def sign_wordpress(body: bytes, secret: str) -> dict[str, str]:
    """WP Webhooks: X-WP-Webhook-Signature = base64 HMAC-SHA256(secret, body)."""
    return {"x-wp-webhook-signature": base64.b64encode(_hmac_sha256(secret.encode(), body)).decode()}


def sign_webflow(body: bytes, secret: str, *, now: float) -> dict[str, str]:
    """Webflow: x-webflow-signature = hex HMAC-SHA256(secret, timestamp + ":" + body), timestamp in ms."""
    ts = str(int(now * 1000))
    signature = _hmac_sha256(secret.encode(), f"{ts}:".encode() + body).hex()
    return {"x-webflow-timestamp": ts, "x-webflow-signature": signature}


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
    extra = {key.lower(): value for key, value in (headers or {}).items()}
    msg_id = delivery_id or f"msg_{uuid.uuid4().hex}"
    if source == "generic":
        auth = sign_standard(body, secret, now=now, msg_id=msg_id)
    elif source == "github":
        auth = {"x-github-delivery": delivery_id or str(uuid.uuid4()), **sign_github(body, secret)}
    elif source == "contentful":
        auth = sign_contentful(method, target, extra, body, secret, now=now)
        if delivery_id:
            auth["x-contentful-idempotency-key"] = delivery_id
    elif source == "sanity":
        auth = {"idempotency-key": msg_id, **sign_sanity(body, secret, now=now)}
    elif source == "ghost":
        auth = sign_ghost(body, secret, now=now)
    elif source == "wordpress":
        auth = sign_wordpress(body, secret)
    elif source == "webflow":
        auth = sign_webflow(body, secret, now=now)
    elif source in ("strapi", "directus"):
        auth = {"authorization": f"Bearer {secret}"}
    else:
        raise ValueError(f"no signer for source {source!r}")
    return {**extra, **auth}
