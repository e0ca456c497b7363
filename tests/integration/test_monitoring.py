"""Monitoring on a running system: the canary, the golden set, corpus drift, knowledge gaps, /metrics and
the status page, with the real worker, watcher, model and store."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from freshrag.canary_document import CANARY_DOC_ID, CANARY_STATE, canary_text
from freshrag.documents import Change, Op, SourceKind
from freshrag.health import checks
from freshrag.health.canary import Canary
from freshrag.sources import WatchedFolder
from freshrag.state.health import CHANGES
from services.api import create_app
from tests.conftest import eventually
from tests.integration.conftest import System

# Every metric DESIGN.md names; dashboards and alerts are written against these.
DESIGN_METRICS = {
    "freshrag_update_latency_seconds",
    "freshrag_canary_latency_seconds",
    "freshrag_events",
    "freshrag_queue_depth",
    "freshrag_oldest_pending_change_age_seconds",
    "freshrag_documents",
    "freshrag_chunks",
    "freshrag_chunks_embedded",
    "freshrag_chunks_reused",
    "freshrag_embedding_drift",
    "freshrag_embedding_drift_threshold",
    "freshrag_retrieval_ndcg_at_10",
    "freshrag_retrieval_recall_at_10",
    "freshrag_retrieval_mrr_at_10",
    "freshrag_search_latency_seconds",
    "freshrag_search_top_score",
    "freshrag_search_empty",
    "freshrag_finetune_runs",
    "freshrag_model_info",
    "freshrag_dead_letter",
}

NOTES = {
    "geology/volcano.md": "# Volcanoes\n\nMagma rises through the crust and erupts from volcanoes as lava.\n",
    "kitchen/bread.md": "# Bread\n\nKnead the dough, let the yeast rise it overnight, then bake it hot.\n",
    "sky/aurora.md": "# Aurora\n\nSolar wind particles strike the upper atmosphere and make it glow.\n",
}


def write_notes(inbox: Path) -> None:
    for name, text in NOTES.items():
        (inbox / name).parent.mkdir(parents=True, exist_ok=True)
        (inbox / name).write_text(text, encoding="utf-8")


def write_golden_set(folder: Path, doc_id_of_bread: str) -> Path:
    (folder / "qrels").mkdir(parents=True)
    queries = {
        "q1": "where does lava come from",
        "q2": "how to bake bread",
        "q3": "why the sky glows at night",
    }
    (folder / "queries.jsonl").write_text(
        "".join(json.dumps({"_id": key, "text": text}) + "\n" for key, text in queries.items())
    )
    # Judgments by path relative to the watched folder, and one by doc_id.
    (folder / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\nq1\tgeology/volcano.md\t1\n"
        f"q2\t{doc_id_of_bread}\t1\nq3\tsky/aurora.md\t1\n"
    )
    return folder


Metrics = dict[str, list[tuple[dict[str, str], float]]]


def scrape(client: TestClient) -> Metrics:
    text = client.get("/metrics").text
    return {
        family.name: [(sample.labels, sample.value) for sample in family.samples]
        for family in text_string_to_metric_families(text)
    }


@pytest.fixture
def indexed(start_system: Callable[..., System], tmp_path: Path) -> System:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    bread = WatchedFolder.of(inbox).change_for("kitchen/bread.md").doc_id
    system = start_system(golden_set=write_golden_set(tmp_path / "golden", bread))
    write_notes(system.inbox)
    eventually(lambda: len(system.searchable_docs("volcano bread aurora")) == 3)
    return system


def test_the_canary_goes_through_the_pipeline_but_never_reaches_users(indexed: System) -> None:
    runtime = indexed.runtime
    nonce = "5eed1e55c0de"
    runtime.health.put(CANARY_STATE, {"nonce": nonce, "present": True, "written_at": time.time()})
    runtime.queue.submit(Change(CANARY_DOC_ID, Op.UPSERT, SourceKind.CANARY, uri=f"canary://{nonce}"))
    canary_only = {"source_kind": "canary"}
    eventually(lambda: runtime.search.search(canary_text(nonce), 1, canary_only).results)

    for query in (canary_text(nonce), f"canary probe {nonce}", "synthetic document freshness"):
        hits = runtime.search.search(query, 10, record=True).results
        assert hits  # the notes are found, never the canary
        assert all(hit.doc_id != CANARY_DOC_ID for hit in hits)

    result = Canary(runtime.health, runtime.queue, runtime.search).run(timeout=20)
    assert result is not None
    assert result.outcome == "found"
    assert result.latency_seconds is not None
    assert 0 < result.latency_seconds < 20
    eventually(lambda: runtime.store.chunk_ids_of(CANARY_DOC_ID) == set())  # removed after each run


def value_of(metrics: Metrics, name: str, **labels: str) -> float | None:
    return next((value for found, value in metrics.get(name, []) if found == labels), None)


def test_the_scheduled_canary_is_exported(start_system: Callable[..., System]) -> None:
    system = start_system(canary_interval_seconds=0.5)
    with TestClient(create_app(system.runtime)) as client:
        eventually(lambda: (value_of(scrape(client), "freshrag_canary_runs", outcome="found") or 0) >= 2)
        assert (value_of(scrape(client), "freshrag_canary_latency_seconds", le="+Inf") or 0) >= 2
        status = client.get("/status").json()
    assert status["canary"]["last"]["outcome"] == "found"
    assert status["workers_alive"] == 1


def test_the_golden_set_scores_the_live_index(indexed: System) -> None:
    quality = checks.evaluate_quality(indexed.runtime)
    assert quality is not None
    assert quality.queries == 3
    assert quality.unresolved == 0  # relative paths and a doc_id both name indexed documents
    assert quality.ndcg_at_10 == pytest.approx(1.0)
    assert quality.mrr_at_10 == pytest.approx(1.0)
    assert quality.baseline == {"ndcg_at_10": 1.0, "recall_at_10": 1.0, "mrr_at_10": 1.0}

    (indexed.inbox / "sky/aurora.md").unlink()  # a judged document disappears: quality drops
    eventually(
        lambda: (
            indexed.searchable_docs("aurora")
            == {str(indexed.inbox / p) for p in NOTES} - {str(indexed.inbox / "sky/aurora.md")}
        )
    )
    dropped = checks.evaluate_quality(indexed.runtime)
    assert dropped is not None
    assert dropped.recall_at_10 == pytest.approx(2 / 3, abs=1e-3)
    assert dropped.baseline == quality.baseline  # the baseline stays that of the live model
    with TestClient(create_app(indexed.runtime)) as client:
        metrics = scrape(client)
    assert value_of(metrics, "freshrag_retrieval_recall_at_10", eval_set="golden") == pytest.approx(
        2 / 3, abs=1e-3
    )
    assert value_of(metrics, "freshrag_retrieval_baseline", eval_set="golden", metric="recall_at_10") == 1.0


def _asked_twice(client: TestClient) -> bool:
    """Queries are logged off the search path: wait until both are."""
    gaps = client.get("/knowledge-gaps").json()["gaps"]
    return bool(gaps) and gaps[0]["count"] == 2


def test_metrics_status_and_knowledge_gaps_show_what_happened(indexed: System) -> None:
    runtime = indexed.runtime
    topics = ("tides", "glaciers", "monsoons", "deserts", "coral reefs")
    for number in range(checks.MIN_SAMPLE):  # enough chunks for a centroid to mean something
        topic = topics[number % len(topics)]
        (indexed.inbox / "more" / f"{number}.md").parent.mkdir(exist_ok=True)
        (indexed.inbox / "more" / f"{number}.md").write_text(f"# Note {number}\n\nField notes on {topic}.\n")
    eventually(lambda: runtime.store.count_chunks() >= len(NOTES) + checks.MIN_SAMPLE and indexed.settled())
    corpus = checks.measure_corpus_drift(runtime)
    assert corpus is not None
    assert corpus.value <= corpus.threshold  # the corpus has not moved since its reference
    with TestClient(create_app(runtime)) as client:
        assert client.get("/search", params={"q": "volcano lava"}).json()["results"]
        for _ in range(2):
            client.get("/search", params={"q": "quarterly tax filing deadlines for freelancers"})
        gaps = eventually(lambda: client.get("/knowledge-gaps").json() if _asked_twice(client) else None)
        metrics = scrape(client)
        status = client.get("/status").json()
        page = client.get("/")

    assert gaps["gaps"][0]["query"] == "quarterly tax filing deadlines for freelancers"
    assert gaps["gaps"][0]["count"] == 2
    assert all(gap["query"] != "volcano lava" for gap in gaps["gaps"])

    assert set(metrics) >= DESIGN_METRICS, sorted(DESIGN_METRICS - set(metrics))
    assert value_of(metrics, "freshrag_embedding_drift", kind="corpus") == corpus.value
    assert metrics["freshrag_knowledge_gaps"] == [({}, 1.0)]
    assert metrics["freshrag_workers_alive"] == [({}, 1.0)]
    assert (
        value_of(metrics, "freshrag_source_latency_seconds", source_kind="file", le="+Inf")
        == len(NOTES) + checks.MIN_SAMPLE
    )

    # Twenty notes written in a loop are a bulk load: some or all of them count as a backfill, not as live.
    logged = runtime.health.tail(CHANGES, 1000)
    assert len(logged) == len(NOTES) + checks.MIN_SAMPLE
    assert status["freshness"]["changes"] == sum(entry["origin"] == "live" for entry in logged)
    assert status["freshness"]["changes"] == 0 or status["freshness"]["p99_seconds"] < 60
    assert status["recent_changes"][0]["uri"].startswith(str(indexed.inbox))
    assert page.status_code == 200
    assert "quarterly tax filing deadlines" in page.text
    assert status["recent_changes"][0]["uri"] in page.text
