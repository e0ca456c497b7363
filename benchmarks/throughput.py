"""`freshrag ingest` throughput against the raw encode throughput of the same model on the same chunk texts.

The SciFact corpus is written out as Markdown files (title as heading, abstract as body). Raw encode is the
fastest backend (ONNX int8) embedding exactly the chunk texts ingest produces, in one call. Rounds alternate
raw and ingest so that machine noise hits both alike.

    .venv/bin/python benchmarks/throughput.py [--docs 5183] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from common import MODEL_CACHE, SHARED_DATA, save
from rich.console import Console

from freshrag.embedding import load_embedder
from freshrag.parsing import ParsedDocument, parse_file
from freshrag.runtime import build_runtime
from freshrag.settings import load_settings
from freshrag_cli.ingest import run_ingest


def write_corpus(folder: Path, limit: int) -> None:
    with (SHARED_DATA / "ir" / "scifact" / "corpus.jsonl").open() as lines:
        for number, line in enumerate(lines):
            if number >= limit:
                break
            row = json.loads(line)
            (folder / f"{row['_id']}.md").write_text(f"# {row['title']}\n\n{row['text']}\n")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--docs", type=int, default=5183)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        corpus = Path(scratch) / "scifact"
        corpus.mkdir()
        write_corpus(corpus, args.docs)
        embedder = load_embedder(load_settings(model_cache_dir=MODEL_CACHE))
        rounds = []
        for number in range(args.rounds):
            runtime = build_runtime(
                load_settings(data_dir=Path(scratch) / f"data{number}", model_cache_dir=MODEL_CACHE),
                embedder=embedder,
            )
            texts = []
            for path in sorted(corpus.iterdir()):
                parsed = parse_file(path.name, path.read_bytes())
                assert isinstance(parsed, ParsedDocument)
                texts.extend(chunk.embed_text for chunk in runtime.chunker.chunk(parsed))
            started = time.perf_counter()
            embedder.embed(texts)
            raw = len(texts) / (time.perf_counter() - started)
            started = time.perf_counter()
            outcomes = run_ingest(runtime, [corpus], Console(quiet=True))
            seconds = time.perf_counter() - started
            embedded = sum(outcome.embedded for outcome in outcomes)
            runtime.close()
            rounds.append(
                {
                    "chunks": len(texts),
                    "raw_chunks_per_s": round(raw, 1),
                    "ingest_chunks_per_s": round(embedded / seconds, 1),
                    "ratio": round(embedded / seconds / raw, 3),
                }
            )
            print(rounds[-1], flush=True)
    save(
        "throughput",
        {
            "what": "freshrag ingest vs raw ONNX-int8 encode of the same chunk texts (SciFact as Markdown)",
            "documents": args.docs,
            "rounds": rounds,
            "median_ratio": statistics.median(r["ratio"] for r in rounds),
        },
    )


if __name__ == "__main__":
    main()
