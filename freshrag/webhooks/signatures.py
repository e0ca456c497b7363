"""Proof that a webhook delivery comes from the configured sender, one verifier per platform.

Every verifier recomputes the platform's HMAC over the raw body (and whatever else the platform signs),
compares in constant time, and raises `SignatureError` with a message naming the header at fault; schemes that
carry a timestamp also reject deliveries older or newer than `tolerance` seconds, so a captured request cannot
be replayed later. `VERIFIERS` gives them one signature by source name; `delivery_id` names a delivery so that
the caller can drop the platform's retries and replays of one it has already taken.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Callable
from urllib.parse import quote

from freshrag.webhooks.model import Delivery, SignatureError

Verifier = Callable[[Delivery, str, float, float], None]

_SANITY = re.compile(r"^t=(\d+)[, ]+v1=([^, ]+)$")
_GHOST = re.compile(r"^sha256=([0-9a-fA-F]+), ?t=(\d+)$")


def _required(delivery: Delivery, name: str) -> str:
    value = delivery.header(name)
    if value is None or not value.strip():
        raise SignatureError(f"missing {name} header")
    return value.strip()


def _equal(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode())


def _mac(key: bytes | str, message: bytes) -> bytes:
    return hmac.new(key.encode() if isinstance(key, str) else key, message, hashlib.sha256).digest()


def _integer(value: str, name: str) -> int:
    if not (value.isascii() and value.isdigit()) or len(value) > 16:
        raise SignatureError(f"malformed {name} header: {value[:40]!r} is not a whole number")
    return int(value)


def _fresh(sent_at: float, now: float, tolerance: float) -> None:
    def secs(value: float) -> str:
        return f"{value:.1f}".rstrip("0").rstrip(".")

    age = now - sent_at
    if age > tolerance:
        raise SignatureError(f"timestamp is {secs(age)} s old, over the {secs(tolerance)} s tolerance")
    if -age > tolerance:
        raise SignatureError(
            f"timestamp is {secs(-age)} s in the future, over the {secs(tolerance)} s tolerance"
        )


def _mismatch(name: str) -> SignatureError:
    return SignatureError(f"signature does not match ({name} header)")


def standard_webhooks_key(secret: str) -> bytes:
    """The HMAC key of a Standard Webhooks secret: base64, with or without its `whsec_` prefix, as the
    specification's reference libraries read it."""
    try:
        key = base64.b64decode(secret.removeprefix("whsec_"), validate=True)
    except binascii.Error:
        raise SignatureError("the configured secret is not base64 (whsec_<base64>)") from None
    if not key:
        raise SignatureError("the configured secret is empty")
    return key


def verify_standard(delivery: Delivery, secret: str, now: float, tolerance: float) -> None:
    """Verify a Standard Webhooks delivery (webhook-id, webhook-timestamp, webhook-signature: v1,<base64>)."""
    msg_id = _required(delivery, "webhook-id")
    timestamp = _required(delivery, "webhook-timestamp")
    signatures = _required(delivery, "webhook-signature")
    _fresh(_integer(timestamp, "webhook-timestamp"), now, tolerance)
    key = standard_webhooks_key(secret)
    expected = base64.b64encode(_mac(key, f"{msg_id}.{timestamp}.".encode() + delivery.body)).decode()
    for entry in signatures.split():
        version, _, signature = entry.partition(",")
        if version == "v1" and _equal(signature, expected):
            return
    raise _mismatch("webhook-signature")


def verify_github(delivery: Delivery, secret: str) -> None:
    """Verify a GitHub delivery: X-Hub-Signature-256 is sha256=<hex HMAC-SHA256 of the body>."""
    given = _required(delivery, "X-Hub-Signature-256")
    if not _equal(given, "sha256=" + _mac(secret, delivery.body).hex()):
        raise _mismatch("X-Hub-Signature-256")


def _contentful_path(target: str) -> str:
    # node-apps-toolkit: encodeURI(pathname + "?" + querystring.escape(query)); the two safe sets are Node's.
    path, _, query = target.partition("?")
    if query:
        path += "?" + quote(query, safe="!'()*")
    return quote(path, safe=";,/?:@&=+$!'()*#")


def verify_contentful(delivery: Delivery, secret: str, now: float, tolerance: float) -> None:
    """Verify a Contentful delivery: X-Contentful-Signature over method, path, the signed headers and body."""
    given = _required(delivery, "X-Contentful-Signature")
    timestamp = _required(delivery, "X-Contentful-Timestamp")
    signed = [name.strip().lower() for name in _required(delivery, "X-Contentful-Signed-Headers").split(",")]
    # The timestamp and the topic (which decides publish or delete) must be signed, or a captured delivery
    # could be sent again later, or as another action.
    for required in ("x-contentful-timestamp", "x-contentful-topic"):
        if required not in signed and (required == "x-contentful-timestamp" or delivery.header(required)):
            raise SignatureError(f"X-Contentful-Signed-Headers header does not list {required}")
    _fresh(_integer(timestamp, "X-Contentful-Timestamp") / 1000, now, tolerance)
    headers = []
    for name in signed:
        value = delivery.header(name)
        if value is None:
            raise SignatureError(f"missing {name} header (listed in X-Contentful-Signed-Headers)")
        headers.append(f"{name}:{value.strip()}")
    canonical = "\n".join([delivery.method.upper(), _contentful_path(delivery.target), ";".join(headers), ""])
    if not _equal(given, _mac(secret, canonical.encode() + delivery.body).hex()):
        raise _mismatch("X-Contentful-Signature")


def verify_sanity(delivery: Delivery, secret: str, now: float, tolerance: float) -> None:
    """Verify a Sanity delivery: sanity-webhook-signature is t=<ms>,v1=<base64url HMAC of "<t>.<body>">."""
    header = _required(delivery, "sanity-webhook-signature")
    match = _SANITY.match(header)
    if match is None:
        raise SignatureError("malformed sanity-webhook-signature header (expected 't=<ms>,v1=<signature>')")
    timestamp, given = match.groups()
    _fresh(_integer(timestamp, "sanity-webhook-signature") / 1000, now, tolerance)
    expected = base64.urlsafe_b64encode(_mac(secret, timestamp.encode() + b"." + delivery.body))
    if not _equal(given, expected.decode().rstrip("=")):
        raise _mismatch("sanity-webhook-signature")


def verify_ghost(delivery: Delivery, secret: str, now: float, tolerance: float) -> None:
    """Verify a Ghost delivery: X-Ghost-Signature is sha256=<hex HMAC of body + t>, t=<ms>."""
    header = _required(delivery, "X-Ghost-Signature")
    match = _GHOST.match(header)
    if match is None:
        raise SignatureError("malformed X-Ghost-Signature header (expected 'sha256=<hex>, t=<ms>')")
    given, timestamp = match.groups()
    _fresh(_integer(timestamp, "X-Ghost-Signature") / 1000, now, tolerance)
    if not _equal(given.lower(), _mac(secret, delivery.body + timestamp.encode()).hex()):
        raise _mismatch("X-Ghost-Signature")


def verify_wordpress(delivery: Delivery, secret: str) -> None:
    """Verify a WP Webhooks delivery: X-WP-Webhook-Signature is the base64 HMAC-SHA256 of the body."""
    given = _required(delivery, "X-WP-Webhook-Signature")
    if not _equal(given, base64.b64encode(_mac(secret, delivery.body)).decode()):
        raise _mismatch("X-WP-Webhook-Signature")


def verify_bearer(delivery: Delivery, secret: str) -> None:
    """Verify a static token sent as Authorization: Bearer <secret> (Strapi and Directus cannot sign)."""
    scheme, _, token = _required(delivery, "Authorization").partition(" ")
    if scheme.lower() != "bearer":
        # Not a word of the header in the message: without the scheme, what came first is the token itself.
        raise SignatureError("Authorization header is not 'Bearer <token>': expected Bearer")
    if not _equal(token.strip(), secret):
        raise SignatureError("bearer token does not match (Authorization header)")


def _untimed(verify: Callable[[Delivery, str], None]) -> Verifier:
    return lambda delivery, secret, _now, _tolerance: verify(delivery, secret)


VERIFIERS: dict[str, Verifier] = {
    "generic": verify_standard,
    "strapi": _untimed(verify_bearer),
    "contentful": verify_contentful,
    "sanity": verify_sanity,
    "ghost": verify_ghost,
    "wordpress": _untimed(verify_wordpress),
    "directus": _untimed(verify_bearer),
    "github": _untimed(verify_github),
}

# The header naming a delivery: the signed message id of Standard Webhooks, else the signature itself rather
# than the platforms' unsigned ids (X-GitHub-Delivery, idempotency keys), so a replay under a new id is
# still caught. Signatures cover the body and, where the platform has one, the timestamp.
_ID_HEADERS = {
    "generic": "webhook-id",
    "github": "x-hub-signature-256",
    "contentful": "x-contentful-signature",
    "sanity": "sanity-webhook-signature",
    "ghost": "x-ghost-signature",
    "wordpress": "x-wp-webhook-signature",
}
# Headers whose signature verifies in more than one spelling: the id is made of the parsed parts.
_ID_PARTS = {"sanity": _SANITY, "ghost": _GHOST}


def delivery_id(delivery: Delivery) -> str | None:
    """Name the delivery for replay protection (retries share it), or None where the platform gives no way."""
    if delivery.source == "strapi":  # the body carries its event time, so equal bodies are the same event
        return hashlib.sha256(delivery.body).hexdigest()
    name = _ID_HEADERS.get(delivery.source)
    value = (delivery.header(name) or "").strip() if name else ""
    if not value:
        return None
    pattern = _ID_PARTS.get(delivery.source)
    parsed = pattern.match(value) if pattern else None
    if parsed:
        return ":".join(parsed.groups()).lower() if delivery.source == "ghost" else ":".join(parsed.groups())
    return value.lower() if delivery.source in ("github", "contentful") else value
