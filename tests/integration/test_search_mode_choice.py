"""The golden set chooses how search ranks: it scores every mode and moves search to a better one, records and
exports the move, never makes the golden set worse, and leaves a pinned mode alone."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from freshrag.embedding import SentenceTransformerEmbedder
from freshrag.health.checks import evaluate_quality
from freshrag.runtime import build_runtime
from freshrag.settings import Settings
from freshrag.store import SearchMode
from services.api import create_app
from tests.integration.test_search_modes import CODES, index_notes


def write_golden_set(folder: Path) -> Path:
    """Each code asks for its own note (judged by path in the watched folder)."""
    (folder / "qrels").mkdir(parents=True)
    lines = [json.dumps({"_id": f"q{n}", "text": f"door code {code}"}) for n, code in enumerate(CODES[:20])]
    (folder / "queries.jsonl").write_text("\n".join(lines) + "\n")
    judged = "".join(f"q{n}\tnote-{n:02d}.md\t1\n" for n in range(20))
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n" + judged)
    return folder


def test_the_golden_set_moves_search_to_a_better_mode_and_says_so(
    make_settings: Callable[..., Settings], embedder: SentenceTransformerEmbedder, tmp_path: Path
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    # Hybrid with no keyword weight ranks by meaning alone: it blurs the codes the golden set asks for.
    settings = make_settings(
        watch=(inbox,), golden_set=write_golden_set(tmp_path / "golden"), search_weights=(1.0, 0.0)
    )
    runtime = build_runtime(settings, embedder=embedder)
    try:
        index_notes(runtime, inbox)
        before = runtime.search.live_retrieval()
        assert (before.mode, before.weights) == (SearchMode.HYBRID, (1.0, 0.0))

        quality = evaluate_quality(runtime)
        after = runtime.search.live_retrieval()
        with TestClient(create_app(runtime)) as client:
            search = client.get("/status").json()["search"]
            metrics = {f.name: f.samples for f in text_string_to_metric_families(client.get("/metrics").text)}
            answer = client.get("/search", params={"q": CODES[5]}).json()
    finally:
        runtime.close()
    assert after != before
    assert quality is not None
    assert search["label"] == after.label
    assert search["chosen_by"] == "golden set golden"
    assert search["scores"][after.label] >= search["scores"][before.label] + settings.golden_mode_margin
    assert search["scores"][after.label] == max(search["scores"].values())
    assert quality.ndcg_at_10 == search["scores"][after.label]  # the exported quality is the live mode's
    [move] = search["history"]
    assert (move["from"], move["to"]) == (None, after.label)
    [info] = metrics["freshrag_search_mode_info"]
    assert info.labels["mode"] == after.mode.value
    assert len(metrics["freshrag_search_mode_ndcg_at_10"]) == len(search["scores"])
    assert answer["mode"] == after.mode.value
    assert answer["results"][0]["doc_id"].endswith("note-05.md")


def test_a_pinned_mode_is_never_moved(
    make_settings: Callable[..., Settings], embedder: SentenceTransformerEmbedder, tmp_path: Path
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    settings = make_settings(
        watch=(inbox,), golden_set=write_golden_set(tmp_path / "golden"), search_mode="dense"
    )
    runtime = build_runtime(settings, embedder=embedder)
    try:
        index_notes(runtime, inbox)
        evaluate_quality(runtime)
        assert runtime.search.live_retrieval().mode is SearchMode.DENSE
        with TestClient(create_app(runtime)) as client:
            search = client.get("/status").json()["search"]
    finally:
        runtime.close()
    assert search["chosen_by"] == "FRESHRAG_SEARCH_MODE"
    assert search["history"] == []
