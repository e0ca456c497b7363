"""The request body limit as ASGI middleware, driven by hand: no server, no sockets."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from starlette.types import Message, Receive, Scope, Send

from services.api.body_limit import BodyLimit

LIMIT = 1000


async def _read_all(scope: Scope, receive: Receive, send: Send) -> None:
    """An app that reads the whole body, then answers 200 with its size."""
    size, more = 0, True
    while more:
        message = await receive()
        size += len(message.get("body", b""))
        more = message.get("more_body", False)
    body = str(size).encode()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


def _call(path: str, chunks: list[bytes], declared: int | None = None) -> tuple[int, Any, int]:
    """Send `chunks` as one request; the status, the decoded answer, and how many chunks were taken."""
    headers = [] if declared is None else [(b"content-length", str(declared).encode())]
    scope: Scope = {"type": "http", "method": "POST", "path": path, "headers": headers}
    taken = 0
    sent: list[Message] = []

    async def receive() -> Message:
        nonlocal taken
        taken += 1
        return {"type": "http.request", "body": chunks[taken - 1], "more_body": taken < len(chunks)}

    async def send(message: Message) -> None:
        sent.append(message)

    middleware = BodyLimit(_read_all, LIMIT, "FRESHRAG_MAX_REQUEST_BYTES", exempt=("/webhooks/",))
    asyncio.run(middleware(scope, receive, send))
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return sent[0]["status"], json.loads(body), taken


def test_a_declared_length_over_the_limit_is_refused_before_any_byte_is_read() -> None:
    status, answer, taken = _call("/feedback", [b"x" * 2000], declared=2000)
    assert (status, taken) == (413, 0)
    assert "FRESHRAG_MAX_REQUEST_BYTES" in answer["detail"]


def test_a_streamed_body_is_cut_off_once_it_passes_the_limit() -> None:
    status, _, taken = _call("/search", [b"x" * 300] * 100)
    assert (status, taken) == (413, 4)  # 1,200 bytes: the fourth chunk crossed the limit


def test_a_body_within_the_limit_reaches_the_app() -> None:
    assert _call("/feedback", [b"x" * 500, b"x" * 500], declared=1000)[:2] == (200, 1000)


def test_exempt_paths_are_not_limited_here() -> None:
    assert _call("/webhooks/generic", [b"x" * 600] * 5, declared=3000)[:2] == (200, 3000)
