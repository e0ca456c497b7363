"""Webhook deliveries: how soon they are searchable under concurrency, and how many one API takes per second.

Latency: `freshrag up` (embedded) receives C signed Standard Webhooks deliveries at once (C = 1, 10, 50),
each a new SciFact abstract; the time from sending a delivery to its document being indexed (searchable) is
taken by polling /documents once every 20 ms. Several rounds per level, on fresh instances.

Rate: 16 concurrent senders post pre-signed deliveries as fast as the API answers them; every 202 means the
delivery is persisted (SQLite with fsync embedded; Redis with AOF on Redis) and queued. The deliveries update
ten entries over and over, so indexing (coalesced per document) does not compete for the 2 cores.

    .venv/bin/python benchmarks/webhooks.py [--runs 2] [--deliveries 2000]

Compare: `--compare-with <another checkout>` measures the latency of that build and of this one side by
side instead (instances alternating, `--runs` each), and saves `webhooks_compare.json`:

    git worktree add /tmp/before <commit>
    .venv/bin/python benchmarks/webhooks.py --runs 3 --compare-with /tmp/before
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import os
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
from common import SHARED_DATA, distribution, save, start_redis, start_up

SECRET = "whsec_" + base64.b64encode(b"benchmark-secret-0123456789abcdef").decode()
ENV = {"FRESHRAG_WEBHOOK_SECRET_GENERIC": SECRET}
LEVELS = {1: 20, 10: 4, 50: 2}  # concurrency: rounds per run


def signed(number: int, text: str, title: str) -> tuple[bytes, dict[str, str]]:
    """A Standard Webhooks delivery, signed as the spec says."""
    payload = {"type": "document.published", "data": {"id": f"d{number}", "title": title, "text": text}}
    body = json.dumps(payload).encode()
    msg_id, stamp = f"msg_{number}_{time.time_ns()}", str(int(time.time()))
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    digest = hmac.new(key, f"{msg_id}.{stamp}.".encode() + body, hashlib.sha256).digest()
    headers = {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": stamp,
        "webhook-signature": "v1," + base64.b64encode(digest).decode(),
    }
    return body, headers


def abstracts(count: int) -> list[tuple[str, str]]:
    found = []
    with (SHARED_DATA / "ir" / "scifact" / "corpus.jsonl").open() as corpus:
        for line, _ in zip(corpus, range(count), strict=False):
            entry = json.loads(line)
            found.append((entry["title"], entry["text"]))
    return found


def latency_run(texts: list[tuple[str, str]]) -> dict[int, list[float]]:
    results: dict[int, list[float]] = {level: [] for level in LEVELS}
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / "empty"
        folder.mkdir()
        process, client = start_up(folder, Path(scratch) / "data", **ENV)
        try:
            number = 0
            with ThreadPoolExecutor(max_workers=50) as pool:
                for level, rounds in LEVELS.items():
                    for _ in range(rounds):
                        batch = []
                        for _ in range(level):
                            title, text = texts[number % len(texts)]
                            batch.append((number, *signed(number, text, title)))
                            number += 1
                        results[level].extend(_one_round(client, pool, batch))
        finally:
            process.terminate()
            process.wait(timeout=30)
    return results


def _one_round(
    client: httpx.Client, pool: ThreadPoolExecutor, batch: list[tuple[int, bytes, dict[str, str]]]
) -> list[float]:
    sent: dict[str, float] = {}
    lock = threading.Lock()

    def send(number: int, body: bytes, headers: dict[str, str]) -> None:
        start = time.perf_counter()
        response = client.post("/webhooks/generic", content=body, headers=headers)
        if response.status_code != 202:
            raise RuntimeError(f"{response.status_code}: {response.text}")
        with lock:
            sent[f"generic:document:d{number}"] = start

    list(pool.map(lambda item: send(*item), batch))
    seen: dict[str, float] = {}
    deadline = time.monotonic() + 300
    while len(seen) < len(batch) and time.monotonic() < deadline:
        documents = client.get("/documents", params={"status": "indexed", "limit": 10_000}).json()
        now = time.perf_counter()
        for document in documents["documents"]:
            if document["doc_id"] in sent and document["doc_id"] not in seen:
                seen[document["doc_id"]] = now
        time.sleep(0.02)
    return [seen[doc_id] - sent[doc_id] for doc_id in seen]


async def _blast(url: str, deliveries: list[tuple[bytes, dict[str, str]]], senders: int) -> dict[str, Any]:
    queue: asyncio.Queue[tuple[bytes, dict[str, str]]] = asyncio.Queue()
    for delivery in deliveries:
        queue.put_nowait(delivery)
    statuses: dict[int, int] = {}
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:

        async def sender() -> None:
            while not queue.empty():
                body, headers = queue.get_nowait()
                response = await client.post("/webhooks/generic", content=body, headers=headers)
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

        start = time.perf_counter()
        await asyncio.gather(*(sender() for _ in range(senders)))
        elapsed = time.perf_counter() - start
    return {"per_second": round(len(deliveries) / elapsed, 1), "statuses": statuses}


def rate_run(count: int, **env: str) -> dict[str, Any]:
    deliveries = [
        signed(n, f"Revision {n} of entry {n % 10}: the tide table changed.", "Tides") for n in range(count)
    ]
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / "empty"
        folder.mkdir()
        process, client = start_up(folder, Path(scratch) / "data", **ENV, **env)
        try:
            return asyncio.run(_blast(str(client.base_url), deliveries, senders=16))
        finally:
            process.terminate()
            process.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--deliveries", type=int, default=2000)
    parser.add_argument("--compare-with", type=Path, help="another checkout: compare latencies side by side")
    args = parser.parse_args()
    texts = abstracts(500)
    if args.compare_with is not None:
        compare(texts, args.runs, args.compare_with.resolve())
        return
    latencies: dict[int, list[float]] = {level: [] for level in LEVELS}
    for _ in range(args.runs):
        for level, values in latency_run(texts).items():
            latencies[level].extend(values)
    rates: dict[str, list[dict[str, Any]]] = {"embedded": [], "redis": []}
    with tempfile.TemporaryDirectory() as scratch:
        redis, url = start_redis(Path(scratch))
        try:
            for _ in range(args.runs):
                rates["embedded"].append(rate_run(args.deliveries))
                rates["redis"].append(rate_run(args.deliveries, FRESHRAG_BROKER_URL=url))
        finally:
            redis.terminate()
            redis.wait(timeout=10)
    save(
        "webhooks",
        {
            "what": "signed delivery sent -> document indexed (seconds), by concurrent deliveries; and "
            "deliveries accepted per second by one API process (16 concurrent senders)",
            "latency_by_concurrency": {
                str(level): distribution(values) for level, values in latencies.items()
            },
            "accepted_per_second": rates,
        },
    )


def compare(texts: list[tuple[str, str]], runs: int, other: Path) -> None:
    """Latencies of `other`'s build and this one, their instances alternating (each imports its own code)."""
    builds = {"other": str(other), "this": str(Path(__file__).resolve().parents[1])}
    latencies: dict[str, dict[int, list[float]]] = {name: {level: [] for level in LEVELS} for name in builds}
    for _ in range(runs):
        for name, path in builds.items():
            os.environ["PYTHONPATH"] = path  # `freshrag up` is started with it: the build's own code
            for level, values in latency_run(texts).items():
                latencies[name][level].extend(values)
    p50 = {
        name: {level: distribution(values)["p50"] for level, values in by_level.items()}
        for name, by_level in latencies.items()
    }
    save(
        "webhooks_compare",
        {
            "what": "signed delivery sent -> document indexed (seconds), two builds side by side",
            "other": str(other),
            "latency_by_concurrency": {
                name: {str(level): distribution(values) for level, values in by_level.items()}
                for name, by_level in latencies.items()
            },
            "p50_this_over_other": {
                str(level): round(p50["this"][level] / p50["other"][level], 3) for level in LEVELS
            },
        },
    )


if __name__ == "__main__":
    main()
