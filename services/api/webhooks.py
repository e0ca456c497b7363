"""`POST /webhooks/{source}`: CMS deliveries in, 202 once they are durable.

The cheap refusals (unknown source, content type, size) happen here, before any work; the body is read
with a limit, so an oversized delivery is cut off while it arrives. Everything else is
`freshrag.webhooks.intake`: verification, replay protection, reading, persisting and enqueueing.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Protocol

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from freshrag.queue import RETRY_AFTER_SECONDS, BrokerUnavailableError, ChangeQueue
from freshrag.settings import Settings
from freshrag.state.entries import EntryJournal
from freshrag.state.locks import DocumentLocks
from freshrag.telemetry import Metrics
from freshrag.webhooks.intake import JournalUnavailableError, WebhookIntake
from freshrag.webhooks.model import Delivery, PayloadError, SignatureError
from freshrag.webhooks.platforms import PLATFORMS, SOURCES

log = logging.getLogger(__name__)
# An unknown source name is the sender's text: echo only this much of it into the answer and the log.
SOURCE_SHOWN_CHARS = 64


class _TooLargeError(Exception):
    pass


class WebhookServices(Protocol):
    """What the webhook route uses: the intake's settings, journal, queue and locks, and a counter."""

    @property
    def settings(self) -> Settings: ...

    @property
    def journal(self) -> EntryJournal: ...

    @property
    def queue(self) -> ChangeQueue: ...

    @property
    def locks(self) -> DocumentLocks: ...

    @property
    def metrics(self) -> Metrics: ...


def webhook_router(services: WebhookServices) -> APIRouter:
    router = APIRouter(tags=["webhooks"])
    intake = WebhookIntake(services.settings, services.journal, services.queue, services.locks)
    limit = services.settings.webhook_max_bytes
    counter = services.metrics.webhook_deliveries

    def answer(source: str, outcome: str, status: int, body: dict[str, Any], **headers: str) -> JSONResponse:
        counter.labels(source, outcome).inc()
        if status >= 400:
            log.warning("webhook %s refused (%d %s): %s", source, status, outcome, body.get("detail"))
        return JSONResponse(body, status_code=status, headers=headers or None)

    @router.post(
        "/webhooks/{source}",
        status_code=202,
        summary="Receive a CMS webhook delivery",
        responses={
            200: {"description": "Acknowledged: a duplicate, an ignored event, or older than what is stored"},
            202: {"description": "Accepted: persisted and queued"},
            400: {"description": "Malformed body or missing field (the detail names it)"},
            401: {"description": "Missing, wrong or stale signature, or no secret configured"},
            404: {"description": "Unknown source"},
            413: {"description": "Body over FRESHRAG_WEBHOOK_MAX_BYTES"},
            415: {"description": "Not JSON"},
            503: {"description": "Cannot persist now: send again after Retry-After"},
        },
    )
    async def receive(source: str, request: Request) -> JSONResponse:
        if source not in SOURCES:
            detail = f"unknown webhook source {_shortened(source)!r} (known: {', '.join(SOURCES)})"
            return answer("unknown", "unknown_source", 404, {"detail": detail})
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if not PLATFORMS[source].accepts(content_type):
            detail = f"content type must be application/json, got {content_type or 'none'!r}"
            return answer(source, "unsupported_media_type", 415, {"detail": detail})
        try:
            body = await _read_limited(request, limit)
        except _TooLargeError:
            detail = f"body over the {limit:,}-byte limit (FRESHRAG_WEBHOOK_MAX_BYTES)"
            return answer(source, "too_large", 413, {"detail": detail})
        delivery = Delivery(
            source=source,
            method=request.method,
            target=_target(request),
            headers={name.lower(): value for name, value in request.headers.items()},
            body=body,
            received_at=time.time(),
        )
        try:
            receipt = await run_in_threadpool(intake.receive, delivery)
        except SignatureError as exc:
            return answer(source, "unauthorized", 401, {"detail": str(exc)})
        except PayloadError as exc:
            return answer(source, "malformed", 400, {"detail": str(exc)})
        except (JournalUnavailableError, BrokerUnavailableError) as exc:
            retry = str(RETRY_AFTER_SECONDS)
            return answer(source, "unavailable", 503, {"detail": str(exc)}, **{"Retry-After": retry})
        status = 202 if receipt.status == "accepted" else 200
        body_out = {"status": receipt.status, "documents": list(receipt.documents), "reason": receipt.reason}
        return answer(source, receipt.status, status, body_out)

    return router


def _shortened(text: str) -> str:
    return text if len(text) <= SOURCE_SHOWN_CHARS else text[:SOURCE_SHOWN_CHARS] + "…"


async def _read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _TooLargeError
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _TooLargeError
        chunks.append(chunk)
    return b"".join(chunks)


def _target(request: Request) -> str:
    """The path and query exactly as the sender wrote them (Contentful signs them)."""
    raw_path: bytes = request.scope.get("raw_path") or request.url.path.encode()
    query: bytes = request.scope.get("query_string", b"")
    return raw_path.decode("latin-1") + (f"?{query.decode('latin-1')}" if query else "")
