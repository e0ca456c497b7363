"""The MCP server, through the `mcp` SDK's own client: over Streamable HTTP at /mcp of the API, and over
stdio from `freshrag mcp` (which answers through the running instance at FRESHRAG_URL). The client lists the
four tools and calls `search` and `ask`; a tool's failure is an error result with the reason."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from typing import Any

import anyio
from fastapi.testclient import TestClient
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from freshrag.runtime import Runtime
from services.api import create_app
from tests.conftest import PROJECT
from tests.fake_openai import FakeOpenAI
from tests.served import served

TOOLS = {"search", "ask", "get_document", "status"}


async def exercise(client: Client) -> dict[str, Any]:
    """List the tools and call each; what came back, by tool."""
    listed = await client.list_tools()
    found = await client.call_tool("search", {"query": "glaze kiln", "k": 2})
    answered = await client.call_tool("ask", {"question": "When does the glaze kiln fire?"})
    doc_id = found.structured_content["results"][0]["doc_id"] if found.structured_content else ""
    document = await client.call_tool("get_document", {"doc_id": doc_id})
    status = await client.call_tool("status", {})
    missing = await client.call_tool("get_document", {"doc_id": "file:/nowhere.md"})
    return {
        "tools": {tool.name for tool in listed.tools},
        "search": found,
        "ask": answered,
        "document": document,
        "status": status,
        "missing": missing,
    }


def check(seen: dict[str, Any]) -> None:
    assert seen["tools"] == TOOLS
    search = seen["search"].structured_content
    assert not seen["search"].is_error
    assert search["results"][0]["uri"].endswith("kiln.md")
    assert len(search["results"]) == 2
    answer = seen["ask"].structured_content
    assert answer["answer"] == "The glaze kiln fires every Thursday at six in the morning [1]."
    assert answer["citations"][0]["uri"].endswith("kiln.md")
    assert (answer["outcome"], answer["grounded"]) == ("answered", True)
    assert json.loads(seen["ask"].content[0].text) == answer
    assert seen["document"].structured_content["status"] == "indexed"
    assert seen["status"].structured_content["documents"]["indexed"] == 2
    assert seen["missing"].is_error
    assert "no document" in seen["missing"].content[0].text


def test_the_mcp_client_calls_the_tools_over_streamable_http(
    start_answering: Callable[..., tuple[Runtime, TestClient]], answer_model: FakeOpenAI
) -> None:
    runtime, _ = start_answering()

    async def session(url: str) -> dict[str, Any]:
        async with Client(f"{url}/mcp") as client:
            return await exercise(client)

    with served(create_app(runtime)) as url:
        check(anyio.run(session, url))
    assert answer_model.calls("POST", "/v1/chat/completions") == 1


def test_the_mcp_client_calls_the_tools_over_stdio(
    start_answering: Callable[..., tuple[Runtime, TestClient]], answer_model: FakeOpenAI
) -> None:
    runtime, _ = start_answering()

    async def session(url: str) -> dict[str, Any]:
        environment = {k: v for k, v in os.environ.items() if not k.startswith("FRESHRAG_")}
        environment |= {"FRESHRAG_URL": url, "PYTHONPATH": str(PROJECT)}
        command = StdioServerParameters(
            command=sys.executable, args=["-m", "freshrag_cli", "mcp"], env=environment, cwd=str(PROJECT)
        )
        async with Client(command) as client:
            return await exercise(client)

    with served(create_app(runtime)) as url:
        check(anyio.run(session, url))
