"""`POST /feedback`: a user's judgement of a search result, kept for the fine-tune job; `GET /feedback`: the
newest ones, for operators.

Feedback is taken only on a document that search can return, since a training pair needs the text the
index holds: an unknown or deleted document (or the canary, never shown) is refused with 404; a known
document that is not indexed (its first indexing still pending, failed or skipped) with 409, as it may be
indexed later. 202 once the feedback is durable; 503 with Retry-After, and nothing stored, when the log
cannot be written.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Annotated, Protocol

from fastapi import APIRouter, Depends, HTTPException, Query

from freshrag.documents import DocStatus, DocumentRecord, SourceKind
from freshrag.queue import RETRY_AFTER_SECONDS
from freshrag.state.feedback import STORAGE_ERRORS, Feedback, FeedbackLog, checked_feedback
from services.api.schemas import FeedbackIn, FeedbackListOut, FeedbackOut

log = logging.getLogger(__name__)


class RecordSource(Protocol):
    def get_record(self, doc_id: str) -> DocumentRecord | None: ...


class FeedbackServices(Protocol):
    """What the feedback routes use."""

    @property
    def store(self) -> RecordSource: ...

    @property
    def feedback(self) -> FeedbackLog: ...


def feedback_router(
    services: FeedbackServices,
    on_feedback: Callable[[Feedback], None] | None = None,
    require_admin: Callable[..., None] | None = None,
) -> APIRouter:
    """The feedback routes; `on_feedback` is called with each stored feedback (to count it)."""
    router = APIRouter(tags=["feedback"])

    def unavailable(exc: Exception, doing: str) -> HTTPException:
        log.warning("feedback log unavailable while %s: %s: %s", doing, type(exc).__name__, exc)
        return HTTPException(
            503,
            f"the feedback log cannot be {doing} now ({type(exc).__name__}); try again shortly",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )

    @router.post(
        "/feedback",
        status_code=202,
        response_model=FeedbackOut,
        summary="Say whether a search result answered a query",
        responses={
            202: {"description": "Stored durably: it will be in the next fine-tune's training set"},
            400: {"description": "The body is not JSON"},
            404: {"description": "The document is not in the index"},
            409: {"description": "The document is known but not indexed (pending, failed or skipped)"},
            422: {"description": "Malformed body, or a field out of its limits (the detail names it)"},
            503: {"description": "Cannot be stored now: send again after Retry-After"},
        },
    )
    def give_feedback(body: FeedbackIn) -> FeedbackOut:
        try:
            query, doc_id = checked_feedback(body.query, body.doc_id)
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None
        _check_searchable(doc_id, services.store.get_record(doc_id))
        try:
            feedback = services.feedback.add(query, doc_id, body.relevant, time.time())
        except STORAGE_ERRORS as exc:
            raise unavailable(exc, "written") from None
        if on_feedback is not None:
            on_feedback(feedback)
        return FeedbackOut(**asdict(feedback))

    @router.get(
        "/feedback",
        response_model=FeedbackListOut,
        summary="The newest feedback, newest first (users' queries: behind the admin token)",
        dependencies=[Depends(require_admin)] if require_admin else [],
    )
    def latest_feedback(limit: Annotated[int, Query(ge=1, le=1000)] = 50) -> FeedbackListOut:
        try:
            latest = services.feedback.latest(limit)
            total = services.feedback.count()
        except STORAGE_ERRORS as exc:
            raise unavailable(exc, "read") from None
        return FeedbackListOut(feedback=[FeedbackOut(**asdict(entry)) for entry in latest], total=total)

    return router


def _check_searchable(doc_id: str, record: DocumentRecord | None) -> None:
    if record is None or record.status is DocStatus.DELETED or record.source_kind is SourceKind.CANARY:
        raise HTTPException(404, f"no document {doc_id!r} in the index (feedback is on search results)")
    if record.status is not DocStatus.INDEXED:
        raise HTTPException(
            409, f"document {doc_id!r} is {record.status.value}, not indexed: no feedback on it until it is"
        )
