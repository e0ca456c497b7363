"""Webhook sources that need a second system: a CMS whose entries are fetched by URL template (a local HTTP
server plays the CMS), and GitHub pushes pulled from a local bare repository."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from freshrag.documents import DocStatus
from services.api import create_app
from tests.cms import SECRETS, Post, deliver
from tests.conftest import SHARED_DATA, eventually
from tests.integration.conftest import System

SECRET_SETTINGS = {f"webhook_secret_{source}": secret for source, secret in SECRETS.items()}


class FakeCms:
    """A CMS item API: GET /items/<collection>/<key> answers {"data": item}, 404 once the item is gone."""

    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str | None]] = []
        cms = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                cms.requests.append((self.path, self.headers.get("Authorization")))
                item = cms.items.get(self.path)
                body = json.dumps({"data": item}).encode() if item else b'{"errors": []}'
                self.send_response(200 if item else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def cms() -> Iterator[FakeCms]:
    fake = FakeCms()
    yield fake
    fake.server.shutdown()


def found(system: System, query: str, marker: str) -> set[str]:
    return {hit.doc_id for hit in system.runtime.search.search(query, 10).results if marker in hit.text}


def test_an_entry_without_its_text_in_the_payload_is_fetched_from_the_cms(
    cms: FakeCms, start_system: Callable[..., System]
) -> None:
    mapping = {"fetch_url": cms.url + "/items/{content_type}/{id}", "fetch_path": "data", "body": ["content"]}
    webhooks = {
        "directus": {"content_types": {"articles": mapping}, "fetch_headers": {"Authorization": "Bearer r"}}
    }
    system = start_system(webhooks=webhooks, **SECRET_SETTINGS)
    cms.items["/items/articles/42"] = {
        "id": 42,
        "title": "Glacier survey",
        "content": "Survey teams measured the Quillon glacier retreating eleven metres since spring.",
    }
    update = Post("directus", {"event": "items.update", "collection": "articles", "keys": ["42"],
                               "payload": {"title": "Glacier survey"}})  # fmt: skip
    with TestClient(create_app(system.runtime)) as client:
        assert deliver(client.post, update).status_code == 202
        eventually(lambda: found(system, "Quillon glacier retreat", "Quillon") == {"directus:articles:42"})
        assert cms.requests[-1] == ("/items/articles/42", "Bearer r")
        record = system.runtime.store.get_record("directus:articles:42")
        assert record is not None
        assert record.title == "Glacier survey"
        cms.items["/items/articles/42"]["status"] = "draft"  # moved back to draft: the fetch finds it so
        assert deliver(client.post, update).status_code == 202
        eventually(lambda: not found(system, "Quillon glacier retreat", "Quillon"))
        cms.items["/items/articles/42"]["status"] = "published"
        assert deliver(client.post, update).status_code == 202
        eventually(lambda: found(system, "Quillon glacier retreat", "Quillon") == {"directus:articles:42"})
        del cms.items["/items/articles/42"]  # deleted in the CMS: the next event finds it gone
        assert deliver(client.post, update).status_code == 202
        eventually(lambda: not found(system, "Quillon glacier retreat", "Quillon"))


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=T", "-c", "user.email=t@example.com", *args],
        cwd=cwd, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return done.stdout.strip()


@pytest.fixture
def remote(tmp_path: Path) -> tuple[Path, Path]:
    """A bare repository (the 'GitHub' side) and a working copy that pushes to it."""
    bare, work = tmp_path / "handbook.git", tmp_path / "work"
    git(tmp_path, "init", "--quiet", "--bare", "--initial-branch=main", str(bare))
    git(tmp_path, "init", "--quiet", "--initial-branch=main", str(work))
    git(work, "remote", "add", "origin", str(bare))
    return bare, work


def push_event(bare: Path, work: Path, ref: str = "refs/heads/main") -> Post:
    payload = json.loads((SHARED_DATA / "webhooks/github/push_1.payload.json").read_text())
    payload["ref"] = ref
    payload["after"] = git(work, "rev-parse", "HEAD")
    payload["repository"].update(full_name="acme/handbook", clone_url=str(bare), default_branch="main")
    return Post("github", payload, {"X-GitHub-Event": "push"})


def test_a_github_push_indexes_the_changed_files_and_deletes_the_removed_ones(
    remote: tuple[Path, Path], start_system: Callable[..., System]
) -> None:
    bare, work = remote
    repositories = {"acme/handbook": {"url": str(bare)}}
    system = start_system(webhooks={"github": {"repositories": repositories}}, **SECRET_SETTINGS)
    (work / "docs").mkdir()
    (work / "docs" / "ferries.md").write_text("# Ferries\n\nThe Hollis ferry leaves the north pier at dawn.")
    (work / "docs" / "tolls.md").write_text("# Tolls\n\nThe Marrow bridge toll is waived on feast days.")
    git(work, "add", "-A")
    git(work, "commit", "--quiet", "-m", "first")
    git(work, "push", "--quiet", "origin", "main")
    with TestClient(create_app(system.runtime)) as client:
        assert deliver(client.post, push_event(bare, work)).status_code == 202
        eventually(lambda: found(system, "Hollis ferry north pier", "Hollis"), timeout=30)
        eventually(lambda: found(system, "Marrow bridge toll", "Marrow"))
        ferry = next(iter(found(system, "Hollis ferry north pier", "Hollis")))
        assert ferry.startswith("git:")
        assert ferry.endswith("/docs/ferries.md")

        (work / "docs" / "ferries.md").write_text(
            "# Ferries\n\nThe Hollis ferry now leaves the south pier at noon."
        )
        (work / "docs" / "tolls.md").unlink()
        git(work, "add", "-A")
        git(work, "commit", "--quiet", "-m", "second")
        git(work, "push", "--quiet", "origin", "main")
        elsewhere = deliver(client.post, push_event(bare, work, ref="refs/heads/feature"))
        assert elsewhere.json()["status"] == "ignored"
        assert deliver(client.post, push_event(bare, work)).status_code == 202
        eventually(lambda: not found(system, "Marrow bridge toll", "Marrow"))
        eventually(lambda: found(system, "Hollis ferry south pier noon", "south pier"))
        assert not found(system, "Hollis ferry north pier dawn", "north pier")
        tolls = ferry.replace("ferries.md", "tolls.md")
        record = system.runtime.store.get_record(tolls)
        assert record is not None
        assert record.status is DocStatus.DELETED
        eventually(lambda: system.runtime.journal.unapplied(time.time()) == [])
        eventually(lambda: system.runtime.journal.pushes.unpulled(time.time()) == [])
        ping = Post("github", {"zen": "Keep it logically awesome."}, {"X-GitHub-Event": "ping"})
        assert deliver(client.post, ping).json()["status"] == "ignored"


def test_a_push_that_cannot_be_pulled_is_logged_counted_and_kept_for_the_sweep(
    remote: tuple[Path, Path], start_system: Callable[..., System], caplog: pytest.LogCaptureFixture
) -> None:
    bare, work = remote
    token = "ghp_notarealtoken0123456789"  # noqa: S105
    unreachable = f"https://x-access-token:{token}@127.0.0.1:9/acme/handbook.git"  # port 9: refused
    system = start_system(
        webhooks={"github": {"repositories": {"acme/handbook": {"url": unreachable}}}}, **SECRET_SETTINGS
    )
    (work / "a.md").write_text("# A\n\nText.")
    git(work, "add", "-A")
    git(work, "commit", "--quiet", "-m", "first")
    registry = system.runtime.metrics.registry
    labels = {"source_kind": "git", "op": "upsert", "outcome": "failed"}
    with TestClient(create_app(system.runtime)) as client:
        assert deliver(client.post, push_event(bare, work)).status_code == 202
        eventually(lambda: registry.get_sample_value("freshrag_events_total", labels) == 1.0, timeout=60)
    failure = next(r.getMessage() for r in caplog.records if "pulling acme/handbook" in r.getMessage())
    assert "failed" in failure
    assert token not in caplog.text, "the clone URL's credentials were logged"
    pending = [push.repository for push in system.runtime.journal.pushes.unpulled(time.time())]
    assert pending == ["acme/handbook"], "the push is no longer kept for the sweep"
