"""Directus: a bearer token in Authorization, sent by a Flow's webhook operation."""

from __future__ import annotations

from pathlib import Path

from tests.cms.common import TEXT, Kit, Post, Sample, load, sign_bearer


def samples(root: Path) -> list[Sample]:
    found = []
    removal = Post("directus", load(root, "directus/items.delete.SHAPE-ONLY.json"))
    for event in ("create", "update"):
        payload = load(root, f"directus/items.{event}.SHAPE-ONLY.json")
        payload["payload"] = {"title": "Valmora orchards", "content": TEXT}
        found.append(
            Sample(f"directus/items.{event}", Post("directus", payload), ("directus:articles:42",), removal)
        )
    return found


KIT = Kit(
    name="directus",
    secret="directus-test-token",
    signature_header="authorization",
    timed=False,
    sign=sign_bearer,
    samples=samples,
)
