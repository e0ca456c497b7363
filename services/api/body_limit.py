"""A limit on the size of every request body, enforced before and while the body arrives.

A declared Content-Length over the limit is answered 413 at once, nothing read; a body without one (chunked)
is counted as it is received and cut off with 413 as soon as it passes the limit, so no route ever holds
more than the limit in memory. Paths under an exempt prefix (the webhooks, which enforce
FRESHRAG_WEBHOOK_MAX_BYTES themselves and count their refusals) pass through untouched.
"""

from __future__ import annotations

import json

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyTooLargeError(HTTPException):
    """Raised from `receive` once a body passes the limit. An HTTPException, so that FastAPI's body
    parsing lets it through (it turns other errors into 400) and the app answers it as a 413."""

    def __init__(self, detail: str) -> None:
        super().__init__(status_code=413, detail=detail)


class BodyLimit:
    """ASGI middleware: request bodies over `limit` bytes are refused with 413 (`setting` names the
    setting in the answer); paths starting with one of `exempt` are not limited here."""

    def __init__(self, app: ASGIApp, limit: int, setting: str, exempt: tuple[str, ...] = ()) -> None:
        self.app = app
        self.limit = limit
        self.exempt = exempt
        self.detail = f"request body over the {limit:,}-byte limit ({setting})"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or str(scope["path"]).startswith(self.exempt):
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.limit:
            await self._refuse(send)
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise BodyTooLargeError(self.detail)
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, watched_send)
        except BodyTooLargeError:
            if started:  # too late to answer: the connection ends, which the client sees
                raise
            await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        body = json.dumps({"detail": self.detail}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        # The client may still be sending: tell it this connection is done with.
        headers.append((b"connection", b"close"))
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() else None
    return None
