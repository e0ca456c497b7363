"""Webhooks as a CMS meets them: `freshrag up` takes deliveries, is killed with SIGKILL right after the last
202, and once restarted every accepted entry is searchable (embedded: the journal is replayed at start-up;
distributed: the broker delivers the tasks again)."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from typing import Any

import pytest

from tests.cms import SECRET_ENV, Post, deliver
from tests.conftest import eventually
from tests.e2e.conftest import Instance
from tests.redis_server import RedisServer

ENTRIES = 30


def indexed(up: Instance) -> set[str]:
    documents = up.http.get("/documents", params={"status": "indexed", "limit": 1000}).json()["documents"]
    return {document["doc_id"] for document in documents}


def note(number: int, text: str) -> Post:
    title = text.splitlines()[0].removeprefix("## ")
    data = {"id": f"paper-{number:02}", "content_type": "paper", "title": title, "text": text}
    return Post("generic", {"type": "document.published", "data": data})


@pytest.mark.parametrize("mode", ["embedded", "redis"])
def test_a_kill_right_after_202_loses_no_accepted_entry(
    mode: str,
    redis_server: RedisServer,  # first: it stops after the freshrag processes
    start_up: Callable[..., Instance],
    abstracts: list[str],
) -> None:
    env = dict(SECRET_ENV)
    if mode == "redis":
        env |= {"FRESHRAG_BROKER_URL": redis_server.url, "FRESHRAG_BROKER_VISIBILITY_TIMEOUT_SECONDS": "10"}
    up = start_up(extra_env=env)
    expected = {f"generic:paper:paper-{number:02}" for number in range(ENTRIES)}
    responses: list[Any] = [deliver(up.http.post, note(n, abstracts[n])) for n in range(ENTRIES)]
    os.kill(up.process.pid, signal.SIGKILL)  # right after the last 202, with most entries still queued
    up.process.wait()
    assert [response.status_code for response in responses] == [202] * ENTRIES

    again = start_up(extra_env=env)
    eventually(lambda: indexed(again) == expected, timeout=180, interval=0.5)
    if mode == "embedded":
        assert "re-enqueued" in again.log.read_text(), "nothing was left to replay: the kill came too late"
    status = again.http.get("/status").json()
    assert status["dead_letters"] == 0
    title = abstracts[17].splitlines()[0].removeprefix("## ")
    hits = again.http.get("/search", params={"q": title, "k": 3}).json()["results"]
    assert hits[0]["doc_id"] == "generic:paper:paper-17"
