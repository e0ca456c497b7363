"""The README's webhook examples, run as a user runs them: every `curl` block of "Webhooks from a CMS" is
sent with bash to `freshrag up` and must be accepted, and what it publishes must become searchable. A
section without exactly one example, or an example that signs wrong, fails."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
from collections.abc import Callable
from functools import partial
from typing import Any

from freshrag.webhooks.platforms import SOURCES
from tests.cms import SECRET_ENV
from tests.conftest import PROJECT, eventually
from tests.e2e.conftest import Instance

README_URL = "http://127.0.0.1:8000"
# GitHub's example is a ping: signed, acknowledged, nothing to index.
STATUS = dict.fromkeys(SOURCES, (202, "accepted")) | {"github": (200, "ignored")}
# Every README `curl` prints its answer and, on a line of its own, the HTTP status.
CURL = "curl() { command curl -sS --max-time 30 -w '\\n%{http_code}' \"$@\"; }\n"
# With these every example must be refused: its acceptance is then owed to the secret it signs with.
WRONG_SECRETS = {
    name: "whsec_" + base64.b64encode(b"not-the-configured-secret-012345").decode()
    if secret.startswith("whsec_")
    else f"not-{secret}"
    for name, secret in SECRET_ENV.items()
}


def readme_examples() -> dict[str, list[str]]:
    """The indented shell blocks with `curl` in "## Webhooks from a CMS", by source (its `###` section)."""
    text = (PROJECT / "README.md").read_text()
    section = text.split("\n## Webhooks from a CMS\n", 1)[1].split("\n## ", 1)[0]
    examples: dict[str, list[str]] = {}
    source = ""
    for part in re.split(r"\n(?=### )", section):
        if part.startswith("### "):
            source = re.split(r"[\s:(]", part.removeprefix("### "), maxsplit=1)[0].lower()
        for block in re.findall(r"(?:^|\n\n)((?: {4}.*(?:\n|$))+)", part):
            if "curl " in block:
                script = "\n".join(line.removeprefix("    ") for line in block.splitlines())
                examples.setdefault(source, []).append(script)
    return examples


def send(script: str, url: str, secrets: dict[str, str]) -> tuple[int, dict[str, Any]]:
    """Run one README example with bash against `url`; its HTTP status and JSON answer."""
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", CURL + script.replace(README_URL, url)],
        env={**os.environ, **secrets},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, f"the example failed ({done.returncode}):\n{script}\n{done.stderr}"
    answer, _, status = done.stdout.rpartition("\n")
    return int(status), json.loads(answer)


def test_every_readme_webhook_example_is_accepted_and_searchable(start_up: Callable[..., Instance]) -> None:
    examples = readme_examples()
    assert {source: len(scripts) for source, scripts in examples.items()} == dict.fromkeys(SOURCES, 1)
    for source, (script,) in examples.items():
        assert f"{README_URL}/webhooks/{source} " in script, f"the {source} example posts elsewhere"
    up = start_up(extra_env=SECRET_ENV)

    for source, (script,) in examples.items():
        status, answer = send(script, up.url, WRONG_SECRETS)
        assert status == 401, f"{source}: signed with the wrong secret, answered {status} {answer}"

    published: dict[str, str] = {}
    for source, (script,) in examples.items():
        status, answer = send(script, up.url, SECRET_ENV)
        assert (status, answer.get("status")) == STATUS[source], f"{source}: {status} {answer}"
        if status == 202:
            assert answer["documents"], f"{source}: accepted, but no document: {answer}"
            published |= dict.fromkeys(answer["documents"], source)

    def indexed(doc_id: str) -> dict[str, Any]:
        document: dict[str, Any] = up.http.get(f"/documents/{doc_id}").json()
        return document if document.get("status") == "indexed" else {}

    for doc_id, source in published.items():
        document = eventually(partial(indexed, doc_id), timeout=60, interval=0.1)
        assert document["title"], f"{source}: {doc_id} was indexed without a title"
        query = {"query": document["title"], "k": 1, "filter": {"doc_id": doc_id}}
        hits = up.http.post("/search", json=query).json()["results"]
        assert hits, f"{source}: {doc_id} is indexed but not found"
        assert hits[0]["text"].strip(), f"{source}: {doc_id} was indexed without its text: {hits}"
