"""One fine-tune run on SciFact, on this machine.

The whole SciFact corpus is indexed as Markdown files; its train judgments are sent as feedback
(`POST /feedback`'s log); its test judgments are the golden set. One run of the local backend with the
default settings (self-supervised corpus pairs off, so that the figure is what the feedback alone buys):
nDCG@10 and recall@10 on the test judgments before (the live model) and after (the candidate), both
measured by the gate against their own collections; training, ONNX export and re-embed times.

    .venv/bin/python benchmarks/finetune.py
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

from common import MODEL_CACHE, PROJECT, SHARED_DATA, save
from rich.console import Console

from freshrag.documents import SourceKind, file_doc_id, root_key
from freshrag.runtime import build_runtime
from freshrag.settings import load_settings
from freshrag.training.run import exclusive, fine_tune
from freshrag_cli.ingest import run_ingest

sys.path.insert(0, str(PROJECT))
from tests.scifact import write_scifact

SCIFACT = SHARED_DATA / "ir" / "scifact"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus-pairs", type=int, default=0, help="Self-supervised pairs (default none).")
    parser.add_argument("--epochs", type=int, default=1)
    arguments = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        data = write_scifact(SCIFACT, root, distractors=10_000)
        settings = load_settings(
            data_dir=root / "data",
            model_cache_dir=MODEL_CACHE,
            watch=(data.folder,),
            golden_set=str(data.golden),
            finetune_corpus_pairs=arguments.corpus_pairs,
            finetune_epochs=arguments.epochs,
            canary_interval_seconds=0,
        )
        runtime = build_runtime(settings)
        try:
            started = time.perf_counter()
            outcomes = run_ingest(runtime, [data.folder], Console(stderr=True))
            ingest_seconds = time.perf_counter() - started
            folder_root = root_key(data.folder.resolve())
            for query, name in data.train:
                runtime.feedback.add(
                    query, file_doc_id(folder_root, name, SourceKind.FILE), True, time.time()
                )
            with exclusive(runtime):
                run = fine_tune(runtime, "benchmark", lambda *_: None)
            chunks = runtime.store.count_chunks()
        finally:
            runtime.close()
    save(
        "finetune",
        {
            "what": "one local fine-tune run on SciFact: train judgments as feedback, test ones the gate",
            "documents": len(outcomes),
            "chunks": chunks,
            "ingest_seconds": round(ingest_seconds, 1),
            "feedback": len(data.train),
            "test_queries": data.test_queries,
            "settings": {
                "epochs": settings.finetune_epochs,
                "batch_size": settings.finetune_batch_size,
                "learning_rate": settings.finetune_learning_rate,
                "corpus_pairs": settings.finetune_corpus_pairs,
                "backend": settings.embedding_backend,
            },
            "pairs": run.pairs,
            "pair_sources": run.pair_sources,
            "before": run.baseline_metrics,
            "after": run.metrics,
            "status": run.status.value,
            "reason": run.reason,
            "timings_seconds": run.timings,
            "duration_seconds": run.duration_s,
            "final_loss": run.loss,
        },
    )


if __name__ == "__main__":
    main()
