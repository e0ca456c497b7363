"""Shared helpers for the benchmarks: percentiles, the shared data folder, starting `freshrag up`."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

PROJECT = Path(__file__).resolve().parent.parent
SHARED_DATA = PROJECT.parent / "shared" / "data"
RESULTS = PROJECT / "benchmarks" / "results"
MODEL_CACHE = Path(os.environ.get("FRESHRAG_MODEL_CACHE_DIR", Path.home() / ".cache" / "freshrag-models"))


def distribution(values: list[float]) -> dict[str, float]:
    array = np.asarray(values, dtype=float)
    return {
        "n": int(array.size),
        "p50": round(float(np.percentile(array, 50)), 4),
        "p90": round(float(np.percentile(array, 90)), 4),
        "p99": round(float(np.percentile(array, 99)), 4),
        "max": round(float(array.max()), 4),
    }


def save(name: str, result: dict[str, Any]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_up(folder: Path, data_dir: Path, **env: str) -> tuple[subprocess.Popen[bytes], httpx.Client]:
    port = free_port()
    environment = (
        os.environ | {"FRESHRAG_MODEL_CACHE_DIR": str(MODEL_CACHE), "FRESHRAG_LOG_LEVEL": "WARNING"} | env
    )
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "freshrag.cli",
            "up",
            "--watch",
            str(folder),
            "--port",
            str(port),
            "--data-dir",
            str(data_dir),
        ],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            if client.get("/readyz").status_code == 200:
                return process, client
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    process.kill()
    raise RuntimeError("freshrag up did not become ready")


def start_redis(directory: Path) -> tuple[subprocess.Popen[bytes], str]:
    """Debian's redis-server on a free port, with append-only persistence as in the compose deployment."""
    port = free_port()
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory),
         "--appendonly", "yes", "--save", ""],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return process, f"redis://127.0.0.1:{port}/0"
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("redis-server did not start")
