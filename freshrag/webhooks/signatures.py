"""What every platform's verifier is made of (each platform module composes its own from these).

A verifier recomputes the platform's HMAC over the raw body (and whatever else the platform signs),
compares in constant time, and raises `SignatureError` with a message naming the header at fault; schemes that
carry a timestamp also reject deliveries older or newer than `tolerance` seconds, so a captured request cannot
be replayed later. A platform's delivery id names a delivery so that the caller can drop its retries and
replays of one it has already taken.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable

from freshrag.webhooks.model import Delivery, SignatureError
from freshrag.webhooks.plugin import Verifier


def required_header(delivery: Delivery, name: str) -> str:
    """The header's value, stripped; `SignatureError` naming it when it is missing or blank."""
    value = delivery.header(name)
    if value is None or not value.strip():
        raise SignatureError(f"missing {name} header")
    return value.strip()


def equal(given: str, expected: str) -> bool:
    """Constant-time comparison of a received signature with the expected one."""
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode())


def hmac_sha256(key: bytes | str, message: bytes) -> bytes:
    return hmac.new(key.encode() if isinstance(key, str) else key, message, hashlib.sha256).digest()


def whole_number(value: str, name: str) -> int:
    """A timestamp header's value; `SignatureError` naming the header when it is not a whole number."""
    if not (value.isascii() and value.isdigit()) or len(value) > 16:
        raise SignatureError(f"malformed {name} header: {value[:40]!r} is not a whole number")
    return int(value)


def check_fresh(sent_at: float, now: float, tolerance: float) -> None:
    """Refuse a delivery signed more than `tolerance` seconds before or after `now`."""

    def secs(value: float) -> str:
        return f"{value:.1f}".rstrip("0").rstrip(".")

    age = now - sent_at
    if age > tolerance:
        raise SignatureError(f"timestamp is {secs(age)} s old, over the {secs(tolerance)} s tolerance")
    if -age > tolerance:
        raise SignatureError(
            f"timestamp is {secs(-age)} s in the future, over the {secs(tolerance)} s tolerance"
        )


def mismatch(name: str) -> SignatureError:
    return SignatureError(f"signature does not match ({name} header)")


def verify_bearer(delivery: Delivery, secret: str) -> None:
    """Verify a static token sent as Authorization: Bearer <secret> (for platforms that cannot sign)."""
    scheme, _, token = required_header(delivery, "Authorization").partition(" ")
    if scheme.lower() != "bearer":
        # Not a word of the header in the message: without the scheme, what came first is the token itself.
        raise SignatureError("Authorization header is not 'Bearer <token>': expected Bearer")
    if not equal(token.strip(), secret):
        raise SignatureError("bearer token does not match (Authorization header)")


def untimed(verify: Callable[[Delivery, str], None]) -> Verifier:
    """A verifier for a scheme without a timestamp, in the signature every platform's verifier has."""
    return lambda delivery, secret, _now, _tolerance: verify(delivery, secret)


def header_id(delivery: Delivery, name: str, *, lower: bool = False) -> str | None:
    """A delivery id read from one header (a signature, usually: unlike the platforms' unsigned ids, a
    replay under a new id is still caught), or None when the header is absent."""
    value = (delivery.header(name) or "").strip()
    if not value:
        return None
    return value.lower() if lower else value
