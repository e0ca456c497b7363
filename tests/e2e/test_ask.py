"""`freshrag up` answering questions against a local OpenAI-compatible server (tests/fake_openai.py), as a
user runs it: a fact dropped into the watched folder is answered with a citation of its file and version;
after an edit the new version is cited and the old text is not in the prompt; after a delete the answer is
"I don't have that information" and the model is not called."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.conftest import eventually
from tests.e2e.conftest import Instance, run
from tests.fake_openai import answer_from_passages, fake_openai

QUESTION = "What is the office wifi password?"


def test_answers_follow_the_file_through_add_edit_and_delete(
    start_up: Callable[..., Instance], tmp_path: Path, env: dict[str, str]
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    note = inbox / "wifi.md"
    with fake_openai() as fake:
        fake.chat_reply = answer_from_passages
        answering = {
            "FRESHRAG_OPENAI_BASE_URL": fake.base_url,
            "FRESHRAG_OPENAI_API_KEY": "sk-test",
            "FRESHRAG_CANARY_INTERVAL_SECONDS": "0",
        }
        up = start_up("--watch", "inbox", extra_env=answering)
        cli_env = env | answering | {"FRESHRAG_URL": up.url}

        def ask() -> dict[str, Any]:
            result = run(["ask", QUESTION, "--json"], cli_env, tmp_path)
            assert result.returncode == 0, result.stderr
            answer: dict[str, Any] = json.loads(result.stdout)
            return answer

        def indexed_version(version: int) -> bool:
            hits = up.http.get("/search", params={"q": "office wifi password"}).json()["results"]
            return any(hit["uri"] == str(note) and hit["version"] == version for hit in hits)

        note.write_text("# Office wifi\n\nThe office wifi password is heron-42. It changes every quarter.\n")
        eventually(lambda: indexed_version(1), timeout=60)
        first = ask()
        assert first["answer"] == "The office wifi password is heron-42 [1]."
        assert (first["outcome"], first["grounded"], first["route"]) == ("answered", True, "rag")
        [cited] = first["citations"]
        assert (cited["uri"], cited["version"], cited["title"]) == (str(note), 1, "Office wifi")

        note.write_text("# Office wifi\n\nThe office wifi password is osprey-77. It changes every quarter.\n")
        eventually(lambda: indexed_version(2), timeout=60)
        second = up.http.post("/ask", json={"question": QUESTION}).json()  # the API, as the CLI does
        assert second["answer"] == "The office wifi password is osprey-77 [1]."
        assert [(c["uri"], c["version"]) for c in second["citations"]] == [(str(note), 2)]
        prompt = json.dumps(fake.chat_bodies[-1]["messages"])
        assert "osprey-77" in prompt
        assert "heron-42" not in prompt

        calls = fake.calls("POST", "/v1/chat/completions")
        note.unlink()
        eventually(lambda: not up.http.get("/search", params={"q": "office wifi password"}).json()["results"])
        third = up.http.post("/ask", json={"question": QUESTION}).json()
        assert (third["answer"], third["outcome"], third["model"]) == (
            "I don't have that information.",
            "no_information",
            None,
        )
        assert third["citations"] == []
        assert fake.calls("POST", "/v1/chat/completions") == calls

        shown = run(["ask", QUESTION], cli_env, tmp_path)
        assert shown.returncode == 0, shown.stderr
        assert "I don't have that information." in shown.stdout
        assert "no information by route rag" in shown.stdout
        status = run(["status"], cli_env, tmp_path)
        assert "of the last 4: 2 answered, 2 no information" in status.stdout
        advised = run(["advise", "--json"], cli_env, tmp_path)
        assert advised.returncode == 0, advised.stderr
        advice = json.loads(advised.stdout)
        assert (advice["recommendation"], advice["confident"]) == ("rag", False)
        assert advice["figures"]["answers_seen"] == 4
        assert up.stop() == 0
