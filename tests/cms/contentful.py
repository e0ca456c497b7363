"""Contentful (node-apps-toolkit signRequest): signs every given header, the timestamp and the list of signed
headers, with the request's method and path."""

from __future__ import annotations

import copy
import hashlib
import hmac
import time
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import quote

from tests.cms.common import TEXT, Kit, Post, Request, Sample, iso, load

# Characters Node leaves alone: querystring.escape (like encodeURIComponent) and encodeURI.
_NODE_QS_ESCAPE_SAFE = "-_.!~*'()"
_NODE_ENCODE_URI_SAFE = "-_.!~*'();/?:@&=+$,#"


def sign_contentful(
    method: str, target: str, headers: Mapping[str, str], body: bytes, secret: str, *, now: float
) -> dict[str, str]:
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


def _sign(r: Request) -> dict[str, str]:
    auth = sign_contentful(r.method, r.target, r.headers, r.body, r.secret, now=r.now)
    if r.delivery_id:
        auth["x-contentful-idempotency-key"] = r.delivery_id
    return auth


def samples(root: Path) -> list[Sample]:
    found = []
    for name, field_name in (
        ("homepage_publish_event", "description"),
        ("generic_text_page_publish_event", "body"),
    ):
        payload = load(root, f"contentful/Entry.publish.{name}.json")
        payload["fields"][field_name]["en-US"]["content"][0]["content"][0]["value"] = TEXT
        sys = payload["sys"]
        doc_id = f"contentful:{sys['contentType']['sys']['id']}:{sys['id']}:en-US"
        deleted = {"sys": {**copy.deepcopy(sys), "type": "DeletedEntry", "deletedAt": iso(time.time())}}
        topic = {"X-Contentful-Topic": "ContentManagement.Entry.publish"}
        removal = Post("contentful", deleted, {"X-Contentful-Topic": "ContentManagement.Entry.unpublish"})
        found.append(Sample(f"contentful/{name}", Post("contentful", payload, topic), (doc_id,), removal))
    auto_save = load(root, "contentful/Entry.auto_save.dfe-eyfs.json")
    topic = {"X-Contentful-Topic": "ContentManagement.Entry.auto_save"}
    found.append(Sample("contentful/auto_save", Post("contentful", auto_save, topic)))
    return found


KIT = Kit(
    name="contentful",
    secret="c" * 64,
    signature_header="x-contentful-signature",
    timed=True,
    sign=_sign,
    samples=samples,
)
