"""The MCP server: freshrag's search, grounded answers, documents and status as tools for agents, with the
official `mcp` SDK. The API serves it over Streamable HTTP at `/mcp`; `freshrag mcp` over stdio for desktop
clients. The tools call a `FreshragTools`: this process's runtime (`LocalTools`), or a running instance's
HTTP API (`freshrag_cli.mcp`), so the same four tools answer the same way wherever they run."""

from __future__ import annotations

from dataclasses import asdict
from functools import partial
from typing import Any, Literal, Protocol

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

from freshrag.answers.chat import ChatError
from freshrag.answers.model import AskRequest
from freshrag.answers.service import AnswerService
from freshrag.document_status import DocumentStatus
from freshrag.retrieval import parse_mode
from freshrag.status import StatusServices, collect_status

INSTRUCTIONS = (
    "freshrag keeps a search index as fresh as the documents behind it. Use `ask` for an answer that cites "
    "its sources ([n] names a citation), `search` for the passages themselves, `get_document` for a "
    "document's indexing status and version, `status` for the health of the index."
)
Mode = Literal["dense", "keyword", "hybrid"]
RouteName = Literal["auto", "rag", "hybrid", "cascade"]


class FreshragTools(Protocol):
    """What the MCP tools need; each returns the JSON the matching HTTP route answers, and raises
    `ToolError` with a message for the agent when it cannot."""

    def search(self, query: str, k: int, mode: str | None) -> dict[str, Any]: ...

    def ask(self, question: str, k: int, route: str | None) -> dict[str, Any]: ...

    def get_document(self, doc_id: str) -> dict[str, Any]: ...

    def status(self) -> dict[str, Any]: ...


class LocalTools:
    """The tools over this process's runtime. The status leaves users' queries out (as `GET /status`
    does without the admin token)."""

    def __init__(self, services: StatusServices, answers: AnswerService) -> None:
        self._services = services
        self._answers = answers
        self._documents = DocumentStatus(services.store, services.dead_letters, services.queue.pending)

    def search(self, query: str, k: int, mode: str | None) -> dict[str, Any]:
        chosen = parse_mode(mode) if mode else None
        return asdict(self._services.search.search(query, k, mode=chosen, record=True))

    def ask(self, question: str, k: int, route: str | None) -> dict[str, Any]:
        try:
            return self._answers.ask(AskRequest(question, k, route=route)).to_json()
        except ChatError as exc:
            raise ToolError(f"the answer model failed ({exc.kind}): {exc}") from None

    def get_document(self, doc_id: str) -> dict[str, Any]:
        record = self._documents.get(doc_id)
        if record is None:
            raise ToolError(f"no document {doc_id!r}")
        return record.to_public()

    def status(self) -> dict[str, Any]:
        return collect_status(self._services, show_queries=False)


def build_mcp_server(tools: FreshragTools) -> MCPServer:
    """An MCP server with the tools `search`, `ask`, `get_document` and `status` over `tools`. Each call
    runs in a worker thread: a search or an answer never holds the event loop that serves other requests."""
    server: MCPServer = MCPServer("freshrag", instructions=INSTRUCTIONS, version="0.1.0")

    async def run(function: Any, *args: Any) -> dict[str, Any]:
        try:
            result: dict[str, Any] = await anyio.to_thread.run_sync(partial(function, *args))
        except ValueError as exc:  # a bad mode, route or question: the message names the field
            raise ToolError(str(exc)) from None
        return result

    @server.tool()
    async def search(query: str, k: int = 10, mode: Mode | None = None) -> dict[str, Any]:
        """Search the index: the k best passages (1 to 100) for the query, each with doc_id, uri, title,
        heading, text, score, similarity, version and indexed_at. mode: dense, keyword or hybrid
        (default: the live mode)."""
        if not 1 <= k <= 100:
            raise ToolError("k: between 1 and 100")
        return await run(tools.search, query, k, mode)

    @server.tool()
    async def ask(question: str, k: int = 5, route: RouteName | None = None) -> dict[str, Any]:
        """Answer a question from the index only, citing sources: answer (with [n] markers), citations
        (n, doc_id, uri, title, heading, version, indexed_at), grounded, outcome (answered, no_information,
        fallback), route and model. 'I don't have that information.' when the index holds no answer."""
        if not 1 <= k <= 50:
            raise ToolError("k: between 1 and 50")
        return await run(tools.ask, question, k, route)

    @server.tool()
    async def get_document(doc_id: str) -> dict[str, Any]:
        """A document's record: status (indexed, pending, failed, skipped, deleted), version, content hash,
        chunk count, indexed_at, and the reason when it failed or was skipped."""
        return await run(tools.get_document, doc_id)

    @server.tool()
    async def status() -> dict[str, Any]:
        """The health of the index: documents by status, backlog, freshness, canary, drift, retrieval
        quality, the latest answers' outcomes (users' queries left out)."""
        return await run(tools.status)

    return server
