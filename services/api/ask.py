"""`POST /ask`: a grounded answer with its citations, whole or as server-sent events. The chat endpoint's
failures answer 504 (it was too slow), 503 (none configured) or 502 (it failed or answered garbage), with the
reason; nothing else in the process is affected."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, HTTPException
from fastapi.responses import JSONResponse, StreamingResponse

from freshrag.answers.chat import ChatError
from freshrag.answers.model import AskRequest, Done, Event, Restart, Token
from freshrag.answers.service import AnswerService
from services.api.schemas import AskOut
from services.api.schemas import AskRequest as AskIn

log = logging.getLogger(__name__)


def ask_router(answers: AnswerService) -> APIRouter:
    router = APIRouter(tags=["answers"])

    @router.post(
        "/ask",
        response_model=AskOut,
        responses={
            200: {"content": {"text/event-stream": {}}, "description": "With `stream`: server-sent events."},
            502: {"description": "The chat endpoint failed or answered something that is not an answer."},
            503: {"description": "No chat endpoint is configured."},
            504: {"description": "The chat endpoint did not answer within FRESHRAG_ANSWER_TIMEOUT_SECONDS."},
        },
    )
    def ask(body: AskIn) -> Any:
        """Retrieve, prompt the answer model with the numbered passages, and answer with the citations the
        answer uses; "I don't have that information" without calling the model when retrieval is weak."""
        request = AskRequest(body.question, body.k, body.mode, body.filter, body.route)
        try:
            events = answers.events(request, stream=body.stream)
            first = next(events)  # a failure before the first token still gets its HTTP status
            if not body.stream:
                return _last(first, events).answer.to_json()
        except ChatError as exc:
            return _chat_failure(exc)
        except ValueError as exc:  # an unknown filter field
            raise HTTPException(400, str(exc)) from None
        return StreamingResponse(_server_sent(first, events), media_type="text/event-stream")

    return router


def _last(first: Event, events: Iterator[Event]) -> Done:
    for event in (first, *events):
        if isinstance(event, Done):
            return event
    raise AssertionError("an answer always ends with Done")


def _chat_failure(exc: ChatError) -> JSONResponse:
    log.warning("answer model failed (%s): %s", exc.kind, exc)
    return JSONResponse({"detail": str(exc), "reason": exc.kind}, status_code=exc.status)


def _server_sent(first: Event, rest: Iterator[Event]) -> Iterator[str]:
    """`token` events, perhaps a `restart`, then `answer`; a failure after the first token ends the stream
    with an `error` event (its status, reason and detail)."""
    yield _sse(first)
    try:
        for event in rest:
            yield _sse(event)
    except ChatError as exc:
        log.warning("answer model failed while streaming (%s): %s", exc.kind, exc)
        yield _format("error", {"status": exc.status, "reason": exc.kind, "detail": str(exc)})


def _sse(event: Event) -> str:
    if isinstance(event, Token):
        return _format("token", {"text": event.text})
    if isinstance(event, Restart):
        return _format("restart", {"reason": event.reason})
    return _format("answer", event.answer.to_json())


def _format(name: str, data: dict[str, Any]) -> str:
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"
