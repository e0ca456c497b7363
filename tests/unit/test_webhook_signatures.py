"""Webhook signature verification: the platforms' published test vectors, and deliveries signed by
`tests.cms` (written from the platform specs) accepted, tampered, mis-keyed, unsigned or stale
ones refused."""

from __future__ import annotations

import pytest

from freshrag.webhooks.model import Delivery, SignatureError
from freshrag.webhooks.platforms import PLATFORMS, SOURCES, contentful, delivery_id, github, sanity
from freshrag.webhooks.platforms.generic import looks_hex, verify_standard
from freshrag.webhooks.signatures import verify_bearer
from tests.cms import KITS, sign
from tests.cms.common import sign_bearer
from tests.cms.contentful import sign_contentful
from tests.cms.generic import sign_standard

NOW = 1_767_225_600.0
TOLERANCE = 300.0
SECRET = "s3cretSigningKey"  # noqa: S105  (base64 too, as Standard Webhooks secrets are)
BODY = b'{"event":"entry.update","model":"article","entry":{"id":7,"title":"Caf\xc3\xa9"}}'
TIMED = tuple(name for name, kit in KITS.items() if kit.timed)
SIGNATURE_HEADER = {name: kit.signature_header for name, kit in KITS.items()}
VERIFIERS = {name: platform.verify for name, platform in PLATFORMS.items()}
SIGNED = tuple(name for name, kit in KITS.items() if kit.sign is not sign_bearer)  # not a bearer token


def delivery(
    source: str,
    headers: dict[str, str],
    body: bytes = BODY,
    *,
    method: str = "POST",
    target: str = "/webhooks/x",
) -> Delivery:
    lowered = {name.lower(): value for name, value in headers.items()}
    return Delivery(source=source, method=method, target=target, headers=lowered, body=body, received_at=NOW)


def signed(source: str, *, secret: str = SECRET, at: float = NOW, body: bytes = BODY) -> Delivery:
    headers = sign(
        source, body, secret, now=at, headers={"X-Contentful-Topic": "ContentManagement.Entry.publish"}
    )
    return delivery(source, headers, body)


def verify(d: Delivery, secret: str = SECRET, now: float = NOW) -> None:
    VERIFIERS[d.source](d, secret, now, TOLERANCE)


# Published vectors: sanity-io/webhook-toolkit's test, two node-apps-toolkit-signed requests, GitHub's docs.


def test_sanity_published_vector() -> None:
    header = "t=1633519811129,v1=tLa470fx7qkLLEcMOcEUFuBbRSkGujyskxrNXcoh0N0"
    d = delivery("sanity", {"sanity-webhook-signature": header}, b'{"_id":"resume"}')
    sanity.verify(d, "test", 1633519811.129 + 10, TOLERANCE)
    with pytest.raises(SignatureError, match="signature does not match"):
        sanity.verify(d, "tests", 1633519811.129, TOLERANCE)


CONTENTFUL_SECRET = "a" * 32 + "b" * 32
CONTENTFUL_BODY = (
    b'{"sys":{"id":"5KsDBWseXY6QegucYAoacS","type":"Entry"},"fields":{"title":{"en-US":"Hello, World!"}}}'
)


@pytest.mark.parametrize(
    ("target", "headers", "signature"),
    [
        (
            "/trigger/SW5zdGFuY2VGbG93Q29uZmlnOjE=",
            {
                "Content-Type": "application/vnd.contentful.management.v1+json",
                "X-Contentful-Topic": "ContentManagement.Entry.publish",
                "x-contentful-signed-headers": (
                    "content-type,x-contentful-signed-headers,x-contentful-timestamp,x-contentful-topic"
                ),
                "x-contentful-timestamp": "1767225600000",
            },
            "8dec81505760a10b542fbc36d3aa0a772b11f759eca7b2351daaf5bba8c7c6f1",
        ),
        (
            "/trigger/abc?foo=bar baz&x=1",
            {
                "x-contentful-webhook-name": " My Hook ",
                "x-contentful-signed-headers": "x-contentful-signed-headers,x-contentful-timestamp,"
                "x-contentful-webhook-name",
                "x-contentful-timestamp": "1767225600000",
            },
            "c8c83deb1a865012752f66594e6228056c826fd7227a70361b3a304e124555ec",
        ),
    ],
)
def test_contentful_published_vectors(target: str, headers: dict[str, str], signature: str) -> None:
    d = delivery(
        "contentful", {**headers, "x-contentful-signature": signature}, CONTENTFUL_BODY, target=target
    )
    contentful.verify(d, CONTENTFUL_SECRET, 1767225600.0 + 5, TOLERANCE)
    moved = delivery("contentful", dict(d.headers), CONTENTFUL_BODY, target=target + "&y=2")
    with pytest.raises(SignatureError, match="signature does not match"):
        contentful.verify(moved, CONTENTFUL_SECRET, 1767225600.0 + 5, TOLERANCE)


def test_github_published_vector() -> None:
    header = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    d = delivery("github", {"X-Hub-Signature-256": header}, b"Hello, World!")
    github.verify(d, "It's a Secret to Everybody")
    with pytest.raises(SignatureError, match="signature does not match"):
        github.verify(d, "It's a secret to everybody")


# Every platform, through the registry.


def test_registry_covers_every_source() -> None:
    assert set(VERIFIERS) == set(SOURCES)
    assert set(SIGNATURE_HEADER) == set(SOURCES)  # every platform's verifier is tested below


@pytest.mark.parametrize("source", SOURCES)
def test_correctly_signed_delivery_passes(source: str) -> None:
    verify(signed(source))


@pytest.mark.parametrize("source", SIGNED)
def test_tampered_body_fails(source: str) -> None:
    d = signed(source)
    tampered = delivery(source, dict(d.headers), BODY.replace(b'"id":7', b'"id":8'))
    with pytest.raises(SignatureError, match="signature does not match"):
        verify(tampered)


@pytest.mark.parametrize("source", SOURCES)
def test_wrong_secret_fails(source: str) -> None:
    with pytest.raises(SignatureError, match="does not match"):
        verify(signed(source, secret="anotherSecretKey"))


@pytest.mark.parametrize("source", SOURCES)
def test_missing_signature_header_fails(source: str) -> None:
    header = SIGNATURE_HEADER[source]
    headers = {name: value for name, value in signed(source).headers.items() if name != header}
    with pytest.raises(SignatureError, match=f"(?i)missing {header} header"):
        verify(delivery(source, headers))


@pytest.mark.parametrize("source", TIMED)
def test_stale_timestamp_fails(source: str) -> None:
    with pytest.raises(SignatureError, match=r"timestamp is 301 s old, over the 300 s tolerance"):
        verify(signed(source, at=NOW - TOLERANCE - 1))


@pytest.mark.parametrize("source", TIMED)
def test_future_timestamp_fails(source: str) -> None:
    with pytest.raises(SignatureError, match=r"timestamp is 301 s in the future, over the 300 s tolerance"):
        verify(signed(source, at=NOW + TOLERANCE + 1))


@pytest.mark.parametrize("source", TIMED)
@pytest.mark.parametrize("offset", [-TOLERANCE + 1, TOLERANCE - 1])
def test_timestamp_within_tolerance_passes(source: str, offset: float) -> None:
    verify(signed(source, at=NOW + offset))


# Scheme details.


def test_standard_passes_when_only_the_second_signature_matches() -> None:
    headers = sign_standard(BODY, SECRET, now=NOW, msg_id="msg_2")
    wrong = sign_standard(BODY, "rotatedOutSecret", now=NOW, msg_id="msg_2")["webhook-signature"]
    headers["webhook-signature"] = f"v1a,bm90LWVkMjU1MTk= {wrong} {headers['webhook-signature']}"
    verify_standard(delivery("generic", headers), SECRET, NOW, TOLERANCE)
    headers["webhook-signature"] = f"v1a,bm90LWVkMjU1MTk= {wrong}"
    with pytest.raises(SignatureError, match="signature does not match"):
        verify_standard(delivery("generic", headers), SECRET, NOW, TOLERANCE)


# The Standard Webhooks specification's own vector (the reference libraries' tests).
STANDARD_VECTOR = {
    "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
    "webhook-timestamp": "1614265330",
    "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
}


@pytest.mark.parametrize(
    "secret", ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]
)
def test_standard_published_vector_with_or_without_the_whsec_prefix(secret: str) -> None:
    d = delivery("generic", STANDARD_VECTOR, b'{"test": 2432232314}')
    verify_standard(d, secret, 1614265330.0 + 5, TOLERANCE)
    with pytest.raises(SignatureError, match="signature does not match"):
        verify_standard(d, "whsec_" + "A" * 32, 1614265330.0 + 5, TOLERANCE)


def test_a_standard_secret_that_is_not_base64_is_refused() -> None:
    with pytest.raises(SignatureError, match="not base64"):
        verify_standard(
            delivery("generic", sign("generic", BODY, SECRET, now=NOW)), "whsec_@@", NOW, TOLERANCE
        )


def test_standard_signs_the_message_id() -> None:
    headers = {**sign("generic", BODY, SECRET, now=NOW), "webhook-id": "msg_other"}
    with pytest.raises(SignatureError, match="signature does not match"):
        verify_standard(delivery("generic", headers), SECRET, NOW, TOLERANCE)


def test_malformed_timestamp_fails() -> None:
    headers = {**sign("generic", BODY, SECRET, now=NOW), "webhook-timestamp": "soon"}
    with pytest.raises(SignatureError, match="malformed webhook-timestamp header"):
        verify(delivery("generic", headers))


def test_contentful_signs_method_target_and_listed_headers() -> None:
    headers = sign(
        "contentful", BODY, SECRET, now=NOW, headers={"X-Contentful-Topic": "ContentManagement.Entry.publish"}
    )
    verify(delivery("contentful", headers))
    for changed in (
        delivery("contentful", headers, method="PUT"),
        delivery("contentful", headers, target="/webhooks/y"),
        delivery("contentful", {**headers, "x-contentful-topic": "ContentManagement.Entry.delete"}),
    ):
        with pytest.raises(SignatureError, match="signature does not match"):
            verify(changed)
    without_topic = {name: value for name, value in headers.items() if name != "x-contentful-topic"}
    with pytest.raises(SignatureError, match="missing x-contentful-topic header"):
        verify(delivery("contentful", without_topic))


def test_contentful_query_is_escaped_as_the_toolkit_does() -> None:
    target = "/webhooks/x?a=(1)&b=caf\u00e9 !*'~"
    headers = sign("contentful", BODY, SECRET, now=NOW, target=target)
    verify(delivery("contentful", headers, target=target))


def test_contentful_timestamp_must_be_signed() -> None:
    headers = {
        **sign("contentful", BODY, SECRET, now=NOW),
        "x-contentful-signed-headers": "x-contentful-signed-headers",
    }
    with pytest.raises(SignatureError, match="does not list x-contentful-timestamp"):
        verify(delivery("contentful", headers))


@pytest.mark.parametrize("source", ["sanity", "ghost"])
def test_malformed_signature_header_fails(source: str) -> None:
    with pytest.raises(SignatureError, match="malformed"):
        verify(delivery(source, {SIGNATURE_HEADER[source]: "v1=abc"}))


def test_github_requires_the_sha256_prefix() -> None:
    header = sign("github", BODY, SECRET, now=NOW)["x-hub-signature-256"]
    with pytest.raises(SignatureError, match="signature does not match"):
        verify(delivery("github", {"x-hub-signature-256": header.removeprefix("sha256=")}))


def test_bearer_token() -> None:
    verify_bearer(delivery("strapi", {"Authorization": f"bearer {SECRET}"}), SECRET)
    with pytest.raises(SignatureError, match="bearer token does not match"):
        verify_bearer(delivery("strapi", {"Authorization": "Bearer wrong-token"}), SECRET)
    with pytest.raises(SignatureError, match="expected Bearer"):
        verify_bearer(delivery("directus", {"Authorization": f"Basic {SECRET}"}), SECRET)
    with pytest.raises(SignatureError, match="does not match"):
        verify_bearer(delivery("directus", {"Authorization": "Bearer caf\u00e9"}), SECRET)


STRAPI_TOKEN = "Zq7vX1pLw9Rk2TmB-strapi-admin"  # noqa: S105  (a test token)


@pytest.mark.parametrize(
    "header",
    [
        STRAPI_TOKEN,
        f"Token {STRAPI_TOKEN}",
        f"{STRAPI_TOKEN} extra",
        f" {STRAPI_TOKEN}",
        f"{STRAPI_TOKEN[:8]}",
    ],
)
def test_a_token_sent_without_bearer_is_refused_without_echoing_it(header: str) -> None:
    """The refusal goes into the answer and the log: no part of what was sent as a token may be in it."""
    with pytest.raises(SignatureError, match="expected Bearer") as refused:
        verify_bearer(delivery("strapi", {"Authorization": header}), STRAPI_TOKEN)
    message = str(refused.value)
    leaked = [
        STRAPI_TOKEN[i : i + 4] for i in range(len(STRAPI_TOKEN) - 3) if STRAPI_TOKEN[i : i + 4] in message
    ]
    assert leaked == [], message


# Delivery ids for replay protection.


@pytest.mark.parametrize(
    ("source", "headers", "expected"),
    [
        ("generic", {"webhook-id": "msg_1"}, "msg_1"),
        # the signature, not X-GitHub-Delivery (unsigned): a captured push sent under a new GUID is a replay
        ("github", {"x-github-delivery": "72d3162e", "x-hub-signature-256": "sha256=AB"}, "sha256=ab"),
        # the signature, not the unsigned idempotency header: a replay under a new key is still caught
        ("contentful", {"x-contentful-idempotency-key": "k1", "x-contentful-signature": "s"}, "s"),
        ("contentful", {"x-contentful-signature": "s"}, "s"),
        ("sanity", {"idempotency-key": "idem", "sanity-webhook-signature": "t=1,v1=x"}, "1:x"),
        # every spelling that verifies names the same delivery
        ("sanity", {"sanity-webhook-signature": "t=1, v1=x"}, "1:x"),
        ("sanity", {"sanity-webhook-signature": "t=1 ,v1=x"}, "1:x"),
        ("ghost", {"x-ghost-signature": "sha256=ab, t=1"}, "ab:1"),
        ("ghost", {"x-ghost-signature": "sha256=AB,t=1"}, "ab:1"),
        ("wordpress", {"x-wp-webhook-signature": "c2ln"}, "c2ln"),
        ("strapi", {}, "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"),  # sha256(b"{}")
        ("directus", {"authorization": "Bearer x"}, None),
        ("generic", {}, None),
    ],
)
def test_delivery_id(source: str, headers: dict[str, str], expected: str | None) -> None:
    assert delivery_id(delivery(source, headers, b"{}")) == expected


def test_an_unsigned_contentful_topic_is_refused() -> None:
    """The topic decides publish or delete: a captured publish must not be sent again as a delete."""
    now = 1_767_225_600.0
    body = b'{"sys": {"id": "1"}}'
    headers = sign_contentful("POST", "/webhooks/contentful", {}, body, SECRET, now=now)
    tampered = delivery(
        "contentful", {**headers, "x-contentful-topic": "ContentManagement.Entry.delete"}, body
    )
    with pytest.raises(SignatureError, match="x-contentful-topic"):
        contentful.verify(tampered, SECRET, now, 300)


def test_an_empty_standard_webhooks_key_is_refused() -> None:
    headers = {"webhook-id": "m", "webhook-timestamp": "1", "webhook-signature": "v1,x"}
    with pytest.raises(SignatureError, match="empty"):
        verify_standard(delivery("generic", headers, b"{}"), "whsec_", 1.0, 300)


def test_a_hex_looking_generic_secret_is_told_apart() -> None:
    assert looks_hex("3f" * 16)
    assert looks_hex("3F" * 24)
    assert not looks_hex("whsec_" + "3f" * 16)  # the prefix says base64
    assert not looks_hex("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")  # the specification's example secret
    assert not looks_hex("3f" * 8)  # too short to be a generated secret
