"""The FastAPI application. One `Runtime` is passed in; nothing is global."""

from __future__ import annotations

import asyncio
import functools
import hmac
import logging
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Annotated, Any

import orjson
from fastapi import Depends, FastAPI, HTTPException, Query, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from freshrag.answers.service import build_answer_service
from freshrag.coordination import replay_dead_letters
from freshrag.document_status import DocumentStatus
from freshrag.documents import DocStatus
from freshrag.health.collector import HealthCollector
from freshrag.mcp_server import LocalTools, build_mcp_server
from freshrag.queue import RETRY_AFTER_SECONDS, BrokerUnavailableError
from freshrag.retrieval import parse_mode, parse_weights
from freshrag.runtime import Runtime
from freshrag.search import SearchResponse
from freshrag.status import collect_status, gaps
from services.api.advice import CachedAdvice, advice_router
from services.api.ask import ask_router
from services.api.body_limit import BodyLimit
from services.api.errors import install_error_handlers
from services.api.feedback import feedback_router
from services.api.models import models_router
from services.api.paths import install_path_convertors
from services.api.schemas import (
    DocumentListOut,
    DocumentOut,
    KnowledgeGapOut,
    KnowledgeGapsOut,
    SearchRequest,
    StatusOut,
)
from services.api.status_page import render_status_page
from services.api.webhooks import webhook_router

log = logging.getLogger(__name__)
_bearer = HTTPBearer(auto_error=False)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def _is_admin(token: str | None, credentials: HTTPAuthorizationCredentials | None) -> bool:
    """Whether the caller holds the admin token; everyone is admin without one (loopback only then)."""
    if token is None:
        return True
    return credentials is not None and hmac.compare_digest(credentials.credentials.encode(), token.encode())


def create_app(runtime: Runtime) -> FastAPI:
    """The HTTP API over `runtime`'s store, search and queue."""
    install_path_convertors()
    answers = build_answer_service(runtime)
    # The MCP server (Streamable HTTP at /mcp): stateless JSON answers, so any API replica serves any call.
    mcp = build_mcp_server(LocalTools(runtime, answers))
    documents = DocumentStatus(runtime.store, runtime.dead_letters, runtime.queue.pending)
    mcp_app = mcp.streamable_http_app(
        streamable_http_path="/mcp", stateless_http=True, json_response=True, host=runtime.settings.host
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with mcp.session_manager.run():
            yield

    app = FastAPI(
        title="freshrag",
        version="0.1.0",
        description="A RAG index kept as fresh as its sources.",
        lifespan=lifespan,
    )
    app.router.routes.extend(mcp_app.routes)
    # Webhooks keep their own, larger limit (FRESHRAG_WEBHOOK_MAX_BYTES), enforced and counted by their route.
    app.add_middleware(
        BodyLimit,
        limit=runtime.settings.max_request_bytes,
        setting="FRESHRAG_MAX_REQUEST_BYTES",
        exempt=("/webhooks/",),
    )

    def require_admin(credentials: Credentials) -> None:
        if not _is_admin(runtime.settings.api_token, credentials):
            raise HTTPException(401, "admin routes need 'Authorization: Bearer <FRESHRAG_API_TOKEN>'")

    @app.exception_handler(BrokerUnavailableError)
    def broker_unavailable(request: Request, exc: BrokerUnavailableError) -> JSONResponse:
        """Nothing was accepted: the caller (a CMS, an operator) should send it again shortly."""
        log.warning("%s %s: %s", request.method, request.url.path, exc)
        return JSONResponse(
            {"detail": str(exc)}, status_code=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)}
        )

    install_error_handlers(app)
    advice = CachedAdvice(runtime)

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"])
    def readyz() -> JSONResponse:
        problems = {}
        for name, check in (("store", runtime.store.ping), ("broker", runtime.queue.ping)):
            try:
                check()
            except Exception as exc:
                problems[name] = f"{type(exc).__name__}: {exc}"
        storage = runtime.storage.problem()  # what this process' last writes found (see storage_health)
        if storage is not None:
            problems["storage"] = storage
        if problems:
            return JSONResponse({"status": "unavailable", "problems": problems}, status_code=503)
        return JSONResponse({"status": "ready"})

    # Searches compute a few at a time (FRESHRAG_SEARCH_THREADS), each with a query model copy of its own;
    # the rest wait in arrival order. Twenty searches let loose at once on two cores only contend for the GIL
    # and the cores, and the unlucky ones wait longest. The threads take the next search from the pool's
    # queue themselves: behind an async limiter each search's slot passed through the event loop, which
    # waits for the GIL like every thread, and on 2 cores that left the slots idle for a quarter of the
    # time (hybrid under 20 clients: 230 -> 290 searches/s).
    searching = ThreadPoolExecutor(runtime.settings.search_threads, thread_name_prefix="search")

    def search_json(response: SearchResponse) -> Response:
        """The answer serialised straight from its dataclasses by orjson: the body the response model
        describes, without validating it again (a few percent of each search's time under the GIL)."""
        return Response(orjson.dumps(response), media_type="application/json")

    async def run_search(
        query: str,
        k: int,
        where: dict[str, str] | None,
        mode: str | None,
        weights: str | list[float] | None,
    ) -> SearchResponse:
        try:
            search = functools.partial(
                runtime.search.search,
                query,
                k,
                where,
                mode=parse_mode(mode) if mode is not None else None,
                weights=parse_weights(weights) if weights is not None else None,
                record=True,
            )
            return await asyncio.get_running_loop().run_in_executor(searching, search)
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from None

    @app.get("/search", response_model=SearchResponse, tags=["search"])
    async def search_get(
        q: Annotated[str, Query(min_length=1, max_length=4096, pattern=r"\S", description="not blank")],
        k: Annotated[int, Query(ge=1, le=100)] = 10,
        mode: Annotated[str | None, Query(max_length=64, description="dense, keyword or hybrid")] = None,
        weights: Annotated[
            str | None, Query(max_length=64, description="hybrid fusion weights: dense,keyword")
        ] = None,
    ) -> Response:
        return search_json(await run_search(q, k, None, mode, weights))

    @app.post("/search", response_model=SearchResponse, tags=["search"])
    async def search_post(body: SearchRequest) -> Response:
        return search_json(await run_search(body.query, body.k, body.filter, body.mode, body.weights))

    @app.get("/documents", response_model=DocumentListOut, tags=["documents"])
    def list_documents(
        status: DocStatus | None = None,
        limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
    ) -> DocumentListOut:
        listed = [DocumentOut(**record.to_public()) for record in documents.listed(status, limit)]
        return DocumentListOut(documents=listed, count=len(listed))

    @app.get("/documents/{doc_id:text}", response_model=DocumentOut, tags=["documents"])
    def get_document(doc_id: str) -> DocumentOut:
        record = documents.get(doc_id)
        if record is None:
            raise HTTPException(404, f"no document {doc_id!r}")
        return DocumentOut(**record.to_public())

    # Users' queries are theirs: the knowledge gaps show them only to the admin (as GET /feedback does).
    @app.get("/status", response_model=StatusOut, tags=["status"])
    def status(credentials: Credentials) -> dict[str, Any]:
        return collect_status(runtime, show_queries=_is_admin(runtime.settings.api_token, credentials))

    @app.get("/", response_class=HTMLResponse, tags=["status"])
    def status_page(credentials: Credentials) -> HTMLResponse:
        """The status page: freshness, backlog, canary, latest changes, failures, quality, drift."""
        shown = collect_status(runtime, show_queries=_is_admin(runtime.settings.api_token, credentials))
        return HTMLResponse(render_status_page(shown | {"advice": advice.for_status_page()}))

    @app.get(
        "/knowledge-gaps",
        response_model=KnowledgeGapsOut,
        tags=["status"],
        dependencies=[Depends(require_admin)],
    )
    def knowledge_gaps() -> KnowledgeGapsOut:
        """Recent queries whose best score is below FRESHRAG_GAP_SCORE, most asked first (users' queries:
        behind the admin token)."""
        return KnowledgeGapsOut(
            gaps=[KnowledgeGapOut(**gap) for gap in gaps(runtime)], gap_score=runtime.settings.gap_score
        )

    @app.post("/admin/reconcile", status_code=202, tags=["admin"], dependencies=[Depends(require_admin)])
    def reconcile() -> dict[str, list[str]]:
        for folder in runtime.folders:
            runtime.queue.reconcile(str(folder.path))
        return {"reconciling": [str(folder.path) for folder in runtime.folders]}

    @app.post(
        "/admin/dead-letters/replay", status_code=202, tags=["admin"], dependencies=[Depends(require_admin)]
    )
    def replay() -> dict[str, int]:
        """Enqueue every dead letter's change again (each becomes a dead letter again if it still fails)."""
        return {"replayed": replay_dead_letters(runtime.dead_letters, runtime.queue)}

    app.include_router(ask_router(answers))
    app.include_router(advice_router(advice))
    app.include_router(webhook_router(runtime))
    app.include_router(
        feedback_router(
            runtime,
            lambda fb: runtime.metrics.feedback.labels(str(fb.relevant).lower()).inc(),
            require_admin,
        )
    )
    app.include_router(models_router(runtime, require_admin))

    registry = CollectorRegistry()
    registry.register(runtime.metrics.registry)  # a registry is a collector too
    registry.register(HealthCollector(runtime))

    exported_model = [""]

    @app.get("/metrics", tags=["metrics"])
    def metrics() -> Response:
        """Prometheus text format: this process's metrics and what is read from shared state."""
        live = runtime.models.live_version()  # another process may have swapped models
        if live != exported_model[0]:
            runtime.metrics.model_info.clear()
            runtime.metrics.model_info.labels(live, runtime.settings.embedding_model).set(1)
            exported_model[0] = live
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return app
