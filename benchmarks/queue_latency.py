"""Drop-to-searchable latency through Redis against the embedded in-memory queue, side by side.

Both modes run the same `freshrag up` (API, watcher and a worker in one process, so the store can stay in
local mode); only FRESHRAG_BROKER_URL differs. Runs alternate between the modes, each on a fresh instance,
so machine noise falls on both alike. The watcher's settle time is the same in both, so the difference
between the two distributions is the queue's.

    .venv/bin/python benchmarks/queue_latency.py [--runs 3] [--files 40]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from common import distribution, save, start_redis
from freshness import one_run


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--files", type=int, default=40)
    args = parser.parse_args()
    latencies: dict[str, list[list[float]]] = {"embedded": [], "redis": []}
    with tempfile.TemporaryDirectory() as scratch:
        redis, url = start_redis(Path(scratch))
        try:
            for _ in range(args.runs):
                latencies["embedded"].append(one_run(args.files))
                latencies["redis"].append(one_run(args.files, FRESHRAG_BROKER_URL=url))
        finally:
            redis.terminate()
            redis.wait(timeout=10)
    result = {
        "what": "file drop to searchable, seconds; freshrag up on the in-memory queue and on redis-server",
        "settle_seconds": 0.15,
    }
    for mode, runs in latencies.items():
        result[mode] = {
            "all": distribution([latency for run in runs for latency in run]),
            "per_run": [distribution(run) for run in runs],
        }
    result["redis_over_embedded_p50"] = round(
        result["redis"]["all"]["p50"] / result["embedded"]["all"]["p50"], 3
    )  # type: ignore[index]
    save("queue_latency", result)


if __name__ == "__main__":
    main()
