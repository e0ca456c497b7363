"""Strapi: a bearer token in Authorization, configured on the webhook."""

from __future__ import annotations

from pathlib import Path

from tests.cms.common import TEXT, Kit, Post, Sample, load, sign_bearer


def samples(root: Path) -> list[Sample]:
    found = []
    for event, removal in (("create", "delete"), ("update", "delete"), ("publish", "unpublish")):
        payload = load(root, f"strapi/entry.{event}.json")
        payload["entry"]["city"] = TEXT
        gone = Post("strapi", load(root, f"strapi/entry.{removal}.json"))
        found.append(Sample(f"strapi/entry.{event}", Post("strapi", payload), ("strapi:address:1",), gone))
    for name in ("media.create", "media.update", "media.delete", "releases.publish"):
        found.append(Sample(f"strapi/{name}", Post("strapi", load(root, f"strapi/{name}.json"))))
    workflow = load(root, "strapi/review-workflows.updateEntryStage.json")
    found.append(Sample("strapi/review-workflows", Post("strapi", workflow)))
    return found


KIT = Kit(
    name="strapi",
    secret="strapi-test-token",
    signature_header="authorization",
    timed=False,
    sign=sign_bearer,
    samples=samples,
)
