"""`freshrag mcp`: the MCP server over stdio, for desktop clients. It answers through the running instance
at FRESHRAG_URL (the embedded store admits one process), or through the local store when none runs."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import anyio
from mcp.server.mcpserver.exceptions import ToolError

from freshrag.settings import Settings
from freshrag_cli.client import ApiClient, InstanceUnreachableError


class RemoteTools:
    """The MCP tools over a running instance's HTTP API."""

    def __init__(self, client: ApiClient) -> None:
        self._client = client

    def search(self, query: str, k: int, mode: str | None) -> dict[str, Any]:
        params: dict[str, Any] = {"q": query, "k": k} | ({"mode": mode} if mode else {})
        return dict(self._call(lambda: self._client.get("/search", **params)))

    def ask(self, question: str, k: int, route: str | None) -> dict[str, Any]:
        body: dict[str, Any] = {"question": question, "k": k} | ({"route": route} if route else {})
        return dict(self._call(lambda: self._client.post("/ask", body)))

    def get_document(self, doc_id: str) -> dict[str, Any]:
        return dict(self._call(lambda: self._client.get(f"/documents/{quote(doc_id, safe='/:')}")))

    def status(self) -> dict[str, Any]:
        return dict(self._call(lambda: self._client.get("/status")))

    @staticmethod
    def _call(request: Any) -> Any:
        try:
            return request()
        except RuntimeError as exc:  # the instance answered an error: its detail is the agent's message
            raise ToolError(str(exc)) from None


def serve_stdio(settings: Settings) -> None:
    """Serve the MCP tools over stdin and stdout until the client closes them."""
    from freshrag.mcp_server import build_mcp_server

    client = ApiClient(settings.url, settings.api_token, timeout=settings.answer_timeout_seconds * 2 + 30)
    try:
        client.get("/healthz")
    except InstanceUnreachableError:
        _serve_local(settings)
        return
    anyio.run(build_mcp_server(RemoteTools(client)).run_stdio_async)


def _serve_local(settings: Settings) -> None:
    from freshrag.answers.service import build_answer_service
    from freshrag.mcp_server import LocalTools, build_mcp_server
    from freshrag.runtime import build_runtime

    runtime = build_runtime(settings)
    try:
        server = build_mcp_server(LocalTools(runtime, build_answer_service(runtime)))
        anyio.run(server.run_stdio_async)
    finally:
        runtime.close()
