"""What monitoring costs.

1. Search and indexing throughput of `freshrag up` with and without a Prometheus-like scrape of /metrics every
   second, side by side: rounds alternate off/on on the same fresh instance.
2. Time of the scheduled checks at 10k and 100k chunks: corpus drift (sampling and measuring; taking the
   reference with its calibration) and a golden-set evaluation (SciFact's 300 test queries, real model),
   on a local-mode store filled with unit vectors.

    .venv/bin/python benchmarks/monitoring.py --rounds 4 --sizes 10000 100000
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np
from common import MODEL_CACHE, SHARED_DATA, save, start_up

from freshrag.documents import SourceKind
from freshrag.embedding import load_embedder
from freshrag.health import drift
from freshrag.health.quality import evaluate_golden_set
from freshrag.settings import load_settings
from freshrag.store import ChunkPoint, SparseVector, chunk_point_id
from freshrag.store.edge import EdgeStore

SCIFACT = SHARED_DATA / "ir" / "scifact"


def abstracts(count: int, offset: int = 0) -> list[str]:
    texts = []
    with (SCIFACT / "corpus.jsonl").open() as corpus:
        for number, line in enumerate(corpus):
            if number >= offset + count:
                break
            if number >= offset:
                entry = json.loads(line)
                texts.append(f"# {entry['title']}\n\n{entry['text']}")
    return texts


def queries(count: int) -> list[str]:
    with (SCIFACT / "queries.jsonl").open() as lines:
        return [json.loads(line)["text"] for line, _ in zip(lines, range(count), strict=False)]


class Scraper:
    """GET /metrics every `interval` seconds, as Prometheus would."""

    def __init__(self, client: httpx.Client, interval: float = 1.0) -> None:
        self._client, self._interval = client, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.scrapes: list[float] = []

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            started = time.perf_counter()
            self._client.get("/metrics")
            self.scrapes.append(time.perf_counter() - started)

    def __enter__(self) -> Scraper:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def throughput_round(
    client: httpx.Client, inbox: Path, texts: list[str], asked: list[str], tag: str
) -> dict[str, float]:
    started = time.perf_counter()
    for query in asked:
        client.get("/search", params={"q": query, "k": 10})
    searches = len(asked) / (time.perf_counter() - started)
    before = client.get("/status").json()["documents"]["indexed"]
    started = time.perf_counter()
    for number, text in enumerate(texts):
        (inbox / f"{tag}-{number}.md").write_text(text)
    while client.get("/status").json()["documents"]["indexed"] < before + len(texts):
        time.sleep(0.05)
    return {"searches_per_s": searches, "files_per_s": len(texts) / (time.perf_counter() - started)}


def scrape_cost(rounds: int, files: int, searches: int) -> dict[str, object]:
    asked = queries(searches)
    results: dict[str, list[dict[str, float]]] = {"off": [], "on": []}
    scrape_times: list[float] = []
    with tempfile.TemporaryDirectory() as scratch:
        inbox = Path(scratch) / "inbox"
        inbox.mkdir()
        process, client = start_up(
            inbox,
            Path(scratch) / "data",
            FRESHRAG_CANARY_INTERVAL_SECONDS="0",
            FRESHRAG_DRIFT_INTERVAL_SECONDS="0",
        )
        try:
            throughput_round(client, inbox, abstracts(20, 5000), asked[:20], "warm")
            for number in range(rounds):
                for mode in ("off", "on") if number % 2 == 0 else ("on", "off"):
                    texts = abstracts(files, offset=files * (2 * number + (mode == "on")))
                    if mode == "on":
                        with Scraper(client) as scraper:
                            results[mode].append(
                                throughput_round(client, inbox, texts, asked, f"{number}-{mode}")
                            )
                        scrape_times.extend(scraper.scrapes)
                    else:
                        results[mode].append(
                            throughput_round(client, inbox, texts, asked, f"{number}-{mode}")
                        )
        finally:
            process.terminate()
            process.wait()
    summary: dict[str, object] = {"rounds": rounds, "files_per_round": files, "searches_per_round": searches}
    for key in ("searches_per_s", "files_per_s"):
        off = statistics.median(r[key] for r in results["off"])
        on = statistics.median(r[key] for r in results["on"])
        summary[key] = {
            "off_median": round(off, 2),
            "on_median": round(on, 2),
            "on_over_off": round(on / off, 3),
            "off": [round(r[key], 2) for r in results["off"]],
            "on": [round(r[key], 2) for r in results["on"]],
        }
    summary["scrape_seconds"] = {
        "p50": round(float(np.percentile(scrape_times, 50)), 4),
        "p99": round(float(np.percentile(scrape_times, 99)), 4),
        "n": len(scrape_times),
    }
    return summary


def check_times(size: int, embedder: object) -> dict[str, float]:
    rng = np.random.default_rng(0)
    scratch = tempfile.TemporaryDirectory(prefix="freshrag-bench-")
    store = EdgeStore(Path(scratch.name))
    store.ensure_collections(384, "bench")
    for start in range(0, size, 2048):
        count = min(2048, size - start)
        vectors = rng.normal(size=(count, 384)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        store.upsert_chunks(
            [
                ChunkPoint(
                    chunk_point_id(f"doc-{(start + i) // 4}", str(i)),
                    vector,
                    {"doc_id": f"doc-{(start + i) // 4}", "source_kind": SourceKind.FILE.value},
                    SparseVector([i % 1000], [1.0]),
                )
                for i, vector in enumerate(vectors)
            ]
        )
    started = time.perf_counter()
    sample = store.sample_vectors(2000)
    reference = drift.take_reference(drift.CORPUS, "bench", sample, len(sample))
    reference_s = time.perf_counter() - started
    started = time.perf_counter()
    drift.measure(reference, store.sample_vectors(2000))
    measure_s = time.perf_counter() - started
    started = time.perf_counter()
    evaluate_golden_set(SCIFACT, store, embedder, [], None)  # type: ignore[arg-type]
    golden_s = time.perf_counter() - started
    store.close()
    scratch.cleanup()
    return {
        "chunks": size,
        "corpus_drift_seconds": round(measure_s, 3),
        "corpus_reference_seconds": round(reference_s, 3),
        "golden_set_300_queries_seconds": round(golden_s, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--files", type=int, default=40)
    parser.add_argument("--searches", type=int, default=100)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    args = parser.parse_args()
    result: dict[str, object] = {"scrape_every_second": scrape_cost(args.rounds, args.files, args.searches)}
    print(json.dumps(result, indent=2), flush=True)
    embedder = load_embedder(load_settings(model_cache_dir=MODEL_CACHE))
    result["checks"] = [check_times(size, embedder) for size in args.sizes]
    print(json.dumps(result["checks"], indent=2))
    save("monitoring", result)


if __name__ == "__main__":
    main()
