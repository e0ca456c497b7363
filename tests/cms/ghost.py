"""Ghost (webhook-trigger.js): sha256=<hex HMAC-SHA256(secret, body + ts)>, t=<ts> with ts in ms."""

from __future__ import annotations

import copy
from pathlib import Path

from tests.cms.common import TEXT, Kit, Post, Request, Sample, hmac_sha256, load


def sign_ghost(body: bytes, secret: str, *, now: float) -> dict[str, str]:
    ts = str(int(now * 1000))
    return {"x-ghost-signature": f"sha256={hmac_sha256(secret.encode(), body + ts.encode()).hex()}, t={ts}"}


def _sign(r: Request) -> dict[str, str]:
    return sign_ghost(r.body, r.secret, now=r.now)


def samples(root: Path) -> list[Sample]:
    payload = load(root, "ghost/post.published.json")
    current = payload["post"]["current"]
    current["html"] = f"<h2>Irrigation</h2><p>{TEXT}</p>"
    deleted = {"post": {"current": {}, "previous": copy.deepcopy(current)}}
    doc_id = f"ghost:post:{current['id']}"
    return [Sample("ghost/post.published", Post("ghost", payload), (doc_id,), Post("ghost", deleted))]


KIT = Kit(
    name="ghost",
    secret="ghost-test-secret",
    signature_header="x-ghost-signature",
    timed=True,
    sign=_sign,
    samples=samples,
)
