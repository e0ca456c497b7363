"""A fine-tune end to end, as a user runs it: `freshrag up` on SciFact files with a golden set, feedback
through the API, `freshrag finetune --now`, then `freshrag models list` and `freshrag models rollback`."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from freshrag.documents import SourceKind, file_doc_id, root_key
from freshrag.embedding import PACKAGED_MODEL
from tests.conftest import eventually
from tests.e2e.conftest import Instance, run
from tests.scifact import write_scifact

QUERY = "microstructural development of cerebral white matter in newborns"


def test_finetune_now_promotes_a_better_model_and_rollback_restores_the_previous_one(
    tmp_path: Path, shared_data: Path, env: dict[str, str], start_up: Callable[..., Instance]
) -> None:
    data = write_scifact(
        shared_data / "ir" / "scifact",
        tmp_path / "scifact",
        train_queries=100,
        test_queries=60,
        distractors=60,
        shared_documents=True,
    )
    settings = {
        "FRESHRAG_GOLDEN_SET": str(data.golden),
        "FRESHRAG_FINETUNE_MARGIN": "0.001",
        "FRESHRAG_FINETUNE_BATCH_SIZE": "16",
        "FRESHRAG_FINETUNE_LEARNING_RATE": "5e-5",
        "FRESHRAG_FINETUNE_CORPUS_PAIRS": "0",
    }
    instance = start_up("--watch", str(data.folder), extra_env=settings)
    files = len(list(data.folder.iterdir()))
    eventually(lambda: instance.http.get("/status").json()["documents"]["indexed"] == files, timeout=240)
    # Dense scores are the model's alone; hybrid ones also move with the keyword statistics of the live
    # collection, which the canary's writes and deletes nudge meanwhile.
    before = instance.http.get("/search", params={"q": QUERY, "k": 10, "mode": "dense"}).json()
    assert before["model_version"] == PACKAGED_MODEL

    root = root_key(data.folder.resolve())
    for query, name in data.train:
        body = {"query": query, "doc_id": file_doc_id(root, name, SourceKind.FILE)}
        assert instance.http.post("/feedback", json=body).status_code == 202
    client_env = env | settings | {"FRESHRAG_URL": instance.url}

    tuned = run(["finetune", "--now", "--json"], client_env, tmp_path, timeout=600)

    assert tuned.returncode == 0, tuned.stderr
    result = json.loads(tuned.stdout)
    assert result["status"] == "live", result["reason"]
    assert result["metrics"]["ndcg_at_10"] >= result["baseline_metrics"]["ndcg_at_10"] + 0.001
    assert result["pair_sources"]["feedback"] == len(set(data.train))  # a repeated judgement counts once
    after = instance.http.get("/search", params={"q": QUERY, "k": 10}).json()
    assert after["model_version"] == result["version"]
    assert after["results"]
    listed = run(["models", "list", "--json"], client_env, tmp_path)
    models = json.loads(listed.stdout)
    assert [(m["version"], m["status"]) for m in models] == [
        (PACKAGED_MODEL, "retired"),
        (result["version"], "live"),
    ]
    for field in ("metrics", "baseline_metrics", "pairs", "duration_s", "created_at"):
        assert models[1][field], field
    metrics = instance.http.get("/metrics").text
    assert 'freshrag_finetune_runs_total{backend="local",outcome="promoted"} 1.0' in metrics
    assert (
        f'freshrag_model_info{{base_model="{PACKAGED_MODEL}",version="{result["version"]}"}} 1.0' in metrics
    )

    rolled = run(["models", "rollback"], client_env, tmp_path, timeout=300)

    assert rolled.returncode == 0, rolled.stderr
    restored = instance.http.get("/search", params={"q": QUERY, "k": 10, "mode": "dense"}).json()
    assert restored["model_version"] == PACKAGED_MODEL
    assert [(r["doc_id"], r["score"]) for r in restored["results"]] == [
        (r["doc_id"], r["score"]) for r in before["results"]
    ]
    statuses = {m["version"]: m["status"] for m in instance.http.get("/models").json()["models"]}
    assert statuses == {PACKAGED_MODEL: "live", result["version"]: "retired"}
