"""`freshrag up` started as a user starts it: a folder kept searchable over HTTP, over MCP and from the
command line."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
from mcp import Client

from tests.conftest import eventually
from tests.e2e.conftest import Instance, run


def test_up_keeps_a_watched_folder_searchable(
    start_up: Callable[..., Instance], tmp_path: Path, env: dict[str, str]
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "before.md").write_text("# Comets\n\nComets grow tails of gas and dust near the sun.")
    up = start_up("--watch", "inbox")

    # Present before start-up: found by the start-up reconcile.
    eventually(lambda: up.http.get("/search", params={"q": "comet tails"}).json()["results"])
    (inbox / "lighthouse.txt").write_text("A lighthouse keeper trims the lamp wick every evening.")

    def found() -> list[dict[str, object]]:
        answer = up.http.get("/search", params={"q": "lamp in a lighthouse", "k": 3}).json()
        return [hit for hit in answer["results"] if str(hit["uri"]).endswith("lighthouse.txt")]

    hit = eventually(found)[0]
    assert hit["uri"] == str(inbox / "lighthouse.txt")
    assert hit["version"] == 1
    assert hit["indexed_at"] is not None
    answer = up.http.post(
        "/search", json={"query": "lighthouse", "k": 1, "filter": {"doc_id": hit["doc_id"]}}
    ).json()
    assert answer["model_version"] == "all-MiniLM-L6-v2"
    assert answer["results"][0]["doc_id"] == hit["doc_id"]
    assert up.http.post("/search", json={"query": "x", "filter": {"secret": "1"}}).status_code == 400

    document = up.http.get(f"/documents/{hit['doc_id']}").json()
    assert (document["status"], document["chunk_count"]) == ("indexed", 1)
    assert len(up.http.get("/documents", params={"status": "indexed"}).json()["documents"]) == 2
    assert up.http.get("/documents/file:nope/none.md").status_code == 404
    assert "freshrag_update_latency_seconds_bucket" in up.http.get("/metrics").text
    assert up.http.get("/docs").status_code == 200
    assert "/search" in up.http.get("/openapi.json").json()["paths"]

    cli_env = env | {"FRESHRAG_URL": up.url}
    searched = run(["search", "lighthouse keeper", "-k", "1"], cli_env, tmp_path)
    assert searched.returncode == 0, searched.stderr
    assert "lighthouse.txt" in searched.stdout
    shown = run(["status", "--json"], cli_env, tmp_path)
    assert shown.returncode == 0, shown.stderr
    status = json.loads(shown.stdout)
    assert status["documents"]["indexed"] == 2
    assert run(["reconcile"], cli_env, tmp_path).returncode == 0

    refused = run(["ingest", "inbox"], cli_env, tmp_path)
    assert refused.returncode == 2
    assert "in use by another freshrag process" in refused.stderr

    (inbox / "lighthouse.txt").unlink()
    eventually(lambda: not found())
    assert up.stop() == 0


def test_a_bad_setting_stops_start_up_with_its_name(tmp_path: Path, env: dict[str, str]) -> None:
    result = run(["up"], env | {"FRESHRAG_PORT": "eighty"}, tmp_path)
    assert result.returncode == 2
    assert "FRESHRAG_PORT" in result.stderr
    exposed = run(["up", "--host", "0.0.0.0"], env, tmp_path)
    assert exposed.returncode == 2
    assert "FRESHRAG_API_TOKEN" in exposed.stderr


def test_agents_search_the_folder_over_mcp_at_slash_mcp(
    start_up: Callable[..., Instance], tmp_path: Path
) -> None:
    """The MCP endpoint of the API as `freshrag up` serves it (its session manager runs in the server's
    lifespan: without it every call to /mcp failed)."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "kiln.md").write_text("# Kiln\n\nThe glaze kiln fires every Thursday at dawn.")
    up = start_up("--watch", "inbox")
    eventually(lambda: up.http.get("/search", params={"q": "glaze kiln"}).json()["results"])

    async def session() -> tuple[set[str], dict[str, Any]]:
        async with Client(f"{up.url}/mcp") as client:
            listed = await client.list_tools()
            found = await client.call_tool("search", {"query": "when does the glaze kiln fire", "k": 1})
            assert not found.is_error, found.content
            return {tool.name for tool in listed.tools}, found.structured_content or {}

    tools, found = anyio.run(session)
    assert {"search", "ask", "get_document", "status"} <= tools
    assert found["results"][0]["uri"] == str(inbox / "kiln.md")
