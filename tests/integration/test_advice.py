"""The RAG-or-fine-tune advice on the real app: `GET /advice` reads the figures of a young index (documents,
answers, tokens, prices) and says plainly that it has too little data; the status page shows it with the
latest answers."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from freshrag.runtime import Runtime


def test_a_young_index_gets_rag_with_too_little_data_and_its_figures(
    start_answering: Callable[..., tuple[Runtime, TestClient]],
) -> None:
    runtime, client = start_answering(price_prompt_per_million=0.15, price_completion_per_million=0.6)
    assert client.post("/ask", json={"question": "When does the glaze kiln fire?"}).status_code == 200
    assert client.post("/ask", json={"question": "Who won the 1930 world cup?"}).status_code == 200
    activity = runtime.search.activity
    assert activity is not None
    activity.flush()  # queries are logged off the search path, within moments; wait for both

    advice = client.get("/advice").json()
    assert (advice["recommendation"], advice["confident"]) == ("rag", False)
    assert advice["summary"].startswith("Too little data to be sure")
    figures = advice["figures"]
    assert (figures["documents"], figures["changed_7d"], figures["answers_seen"]) == (2, 2, 2)
    assert figures["answer_outcomes"] == {"answered": 1, "no_information": 1}
    assert (figures["prompt_tokens_per_answer"], figures["completion_tokens_per_answer"]) == (50, 12)
    assert figures["cost_per_answer"] == round((50 * 0.15 + 12 * 0.6) / 1e6, 8)
    assert figures["queries_seen"] == 2
    assert figures["history_days"] < 1
    assert any("An answer costs about $0.00001" in note for note in advice["notes"])

    page = client.get("/").text
    assert 'id="advice"' in page
    assert 'id="answers"' in page
    assert "Of the last 2: 1 answered, 1 no information." in " ".join(page.split())
