"""Fine-tune runs on a small SciFact corpus with the real model: the gate refuses a model trained on a
corrupted set, and nothing a user sees changes."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from pathlib import Path

from rich.console import Console

from freshrag.documents import SourceKind, file_doc_id, root_key
from freshrag.embedding import PACKAGED_MODEL, SentenceTransformerEmbedder, resolve_model_dir
from freshrag.runtime import build_runtime
from freshrag.settings import Settings
from freshrag.state.registry import RunStatus
from freshrag.training.local import TrainingOptions, train_local
from freshrag.training.pairs import Pair
from freshrag.training.run import exclusive, fine_tune, should_train
from freshrag_cli.ingest import run_ingest
from tests.scifact import write_scifact


def test_a_model_trained_on_a_corrupted_set_is_rejected_and_changes_nothing(
    tmp_path: Path,
    shared_data: Path,
    make_settings: Callable[..., Settings],
    embedder: SentenceTransformerEmbedder,
) -> None:
    data = write_scifact(shared_data / "ir" / "scifact", tmp_path, train_queries=30, test_queries=25)
    settings = make_settings(
        watch=(data.folder,),
        golden_set=str(data.golden),
        finetune_epochs=2,
        finetune_learning_rate=3e-4,  # far too high, on purpose: the candidate must get worse
        finetune_batch_size=16,
        finetune_corpus_pairs=0,
        finetune_min_new_pairs=20,
    )
    runtime = build_runtime(settings, embedder=embedder)
    try:
        run_ingest(runtime, [data.folder], Console(quiet=True))
        root = root_key(data.folder.resolve())
        names = sorted({name for _, name in data.train})
        shuffled = random.Random(7).sample(names, len(names))
        wrong = dict(zip(names, shuffled, strict=True))
        for query, name in data.train:  # every query paired with some other document
            runtime.feedback.add(query, file_doc_id(root, wrong[name], SourceKind.FILE), True, time.time())
        assert should_train(runtime) is not None  # enough new feedback pairs
        before = runtime.search.search("cerebral white matter development", 10)
        collections = runtime.store.chunk_collections()

        with exclusive(runtime):
            run = fine_tune(runtime, "test", lambda *_: None)

        assert run.status is RunStatus.REJECTED, run.reason
        assert run.metrics is not None
        assert run.baseline_metrics is not None
        assert run.metrics["ndcg_at_10"] < run.baseline_metrics["ndcg_at_10"]
        assert run.pair_sources == {"feedback": run.pairs, "llm": 0, "corpus": 0}
        assert run.pairs >= 0.9 * len(data.train)  # (two queries may share a wrong document: one pair)
        assert run.reason
        assert "nDCG@10" in run.reason
        assert run.collection is None
        exported = settings.models_dir / run.version / "onnx"
        assert list(exported.glob("model_q*int8*.onnx"))  # the serving backend was exported for the candidate
        after = runtime.search.search("cerebral white matter development", 10)
        assert after.model_version == before.model_version == embedder.model_version
        assert [(h.doc_id, h.score) for h in after.results] == [(h.doc_id, h.score) for h in before.results]
        assert runtime.store.chunk_collections() == collections  # the candidate's collection is gone
        assert runtime.registry.write_also() == []
        listed = {r.version: r.status for r in runtime.registry.runs()}
        assert listed == {embedder.model_version: RunStatus.LIVE, run.version: RunStatus.REJECTED}
        assert (
            runtime.metrics.registry.get_sample_value(
                "freshrag_finetune_runs_total", {"backend": "local", "outcome": "rejected"}
            )
            == 1
        )
        assert should_train(runtime) is None  # the feedback it trained on no longer counts as new
    finally:
        runtime.close()


def test_training_stops_at_its_time_bound_and_keeps_what_it_learnt(tmp_path: Path) -> None:
    pairs = [
        Pair(f"question {i} about topic {i}", f"passage {i} on topic {i} in detail", "feedback")
        for i in range(64)
    ]
    destination = tmp_path / "model"
    result = train_local(
        resolve_model_dir(PACKAGED_MODEL),
        pairs,
        destination,
        TrainingOptions(epochs=5, batch_size=8, max_seconds=0.001),
        lambda *_: None,
    )
    assert result.stopped_early
    assert result.steps == 1
    assert result.planned_steps == 40
    assert (destination / "modules.json").is_file()  # saved whole, loadable like any model folder
