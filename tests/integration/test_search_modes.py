"""Search modes on the real model and the embedded Qdrant engine: exact identifiers, and what each mode
finds that the others may not."""

from __future__ import annotations

from pathlib import Path

import pytest

from freshrag.runtime import Runtime
from freshrag.sources import WatchedFolder
from freshrag.store import SearchMode

CODES = [f"KX{n % 10}-{2200 + n * 7}" for n in range(50)]


def index_notes(runtime: Runtime, folder: Path) -> dict[str, str]:
    """Fifty near-identical notes that differ only by their door code; returns code to document id."""
    ids = {}
    watched = WatchedFolder.of(folder)
    for number, code in enumerate(CODES):
        path = folder / f"note-{number:02d}.md"
        path.write_text(
            "# Storage room access\n\nThe storage room on the third floor opens with the door code "
            f"{code}. Return the key to reception after use and lock the cabinet.\n"
        )
        change = watched.change_for(path.name)
        assert runtime.indexer.apply(change).outcome == "indexed"
        ids[code] = change.doc_id
    return ids


@pytest.mark.parametrize("mode", [SearchMode.HYBRID, SearchMode.KEYWORD])
def test_a_code_finds_its_note_first_among_fifty_near_identical_ones(
    runtime: Runtime, tmp_path: Path, mode: SearchMode
) -> None:
    ids = index_notes(runtime, tmp_path)
    for code, doc_id in ids.items():
        results = runtime.search.search(code, 10, mode=mode).results
        assert results[0].doc_id == doc_id, f"{code}: {[r.doc_id for r in results[:3]]}"


def test_every_mode_answers_and_says_which_it_used(runtime: Runtime, tmp_path: Path) -> None:
    ids = index_notes(runtime, tmp_path)
    for mode in SearchMode:
        response = runtime.search.search("storage room door code", 5, mode=mode)
        assert response.mode is mode
        assert len(response.results) == 5
        assert {result.doc_id for result in response.results} <= set(ids.values())
        assert all(0.0 < result.similarity <= 1.0 for result in response.results)


def test_a_query_of_stop_words_finds_nothing_by_keyword_but_something_by_meaning(
    runtime: Runtime, tmp_path: Path
) -> None:
    index_notes(runtime, tmp_path)
    assert runtime.search.search("the of and", 5, mode=SearchMode.KEYWORD).results == []
    assert len(runtime.search.search("the of and", 5, mode=SearchMode.HYBRID).results) == 5


def test_the_api_takes_a_mode_and_refuses_unknown_modes_weights_and_blank_queries(
    runtime: Runtime, tmp_path: Path
) -> None:
    from fastapi.testclient import TestClient

    from services.api import create_app

    index_notes(runtime, tmp_path)
    with TestClient(create_app(runtime)) as client:
        keyword = client.get("/search", params={"q": CODES[3], "mode": "keyword"})
        assert keyword.status_code == 200
        assert keyword.json()["mode"] == "keyword"
        assert keyword.json()["weights"] is None
        hybrid = client.post("/search", json={"query": "door code", "mode": "hybrid", "weights": [1, 0.5]})
        assert (hybrid.json()["mode"], hybrid.json()["weights"]) == ("hybrid", [1.0, 0.5])
        assert client.get("/search", params={"q": "door code"}).json()["mode"] == "hybrid"  # the default

        unknown = client.get("/search", params={"q": "door", "mode": "semantic"})
        assert unknown.status_code == 400
        assert unknown.json()["detail"].startswith("mode:")
        bad = client.post("/search", json={"query": "door", "weights": [0, 0]})
        assert bad.status_code == 400
        assert bad.json()["detail"].startswith("weights:")
        assert client.get("/search", params={"q": "door", "weights": "one,two"}).status_code == 400
        assert client.get("/search", params={"q": "   "}).status_code == 422
        assert client.post("/search", json={"query": " \n\t"}).status_code == 422


def test_a_search_does_not_wait_for_a_documents_embedding(runtime: Runtime, tmp_path: Path) -> None:
    import threading

    index_notes(runtime, tmp_path)
    long_batch = [f"Paragraph {n} of a very long report about storage rooms and keys." for n in range(4000)]
    embedding = threading.Thread(target=runtime.embedder.embed, args=(long_batch,))
    embedding.start()
    try:
        while not embedding.is_alive():
            pass
        answers = [runtime.search.search(code, 3).results for code in CODES[:5]]
        still_embedding = embedding.is_alive()  # the searches finished while the document model was busy
    finally:
        embedding.join()
    assert still_embedding
    assert all(answers)
