"""Retrieval quality by search mode and fusion weights on a BEIR dataset, indexed once.

    python benchmarks/search_quality.py --dataset ../shared/data/ir/scifact [--json]

nDCG@10 as pytrec_eval computes it (linear gains), recall@10, recall@100 and MRR@10 for dense, keyword
(BM25 sparse vectors with Qdrant's IDF modifier) and hybrid under each candidate weighting the golden set
chooses from (`freshrag.health.retrieval_choice.CANDIDATES`).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from freshrag.chunking import Chunker
from freshrag.embedding import load_embedder
from freshrag.eval_run import indexed_dataset
from freshrag.health.retrieval_choice import CANDIDATES
from freshrag.settings import load_settings


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dataset", type=Path, required=True)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    settings = load_settings()
    embedder = load_embedder(settings)
    chunker = Chunker(embedder.count_tokens, settings.chunk_max_tokens, settings.chunk_target_tokens)
    rows = []
    with indexed_dataset(args.dataset, embedder, chunker) as dataset:
        for retrieval in CANDIDATES:
            result = dataset.evaluate(retrieval)
            rows.append({"retrieval": retrieval.label} | result)
            if not args.json:
                print(
                    f"{retrieval.label:<16} nDCG@10 {result['ndcg_at_10']:.4f}  recall@10 "
                    f"{result['recall_at_10']:.4f}  recall@100 {result['recall_at_100']:.4f}  "
                    f"MRR@10 {result['mrr_at_10']:.4f}  ({result['search_seconds']} s)",
                    flush=True,
                )
    if args.json:
        print(json.dumps({"dataset": str(args.dataset), "model": embedder.model_version, "rows": rows}))


if __name__ == "__main__":
    main()
