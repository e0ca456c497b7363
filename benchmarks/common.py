"""Shared helpers for the benchmarks: percentiles, the shared data folder, starting `freshrag up`."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

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


def start_up(
    folder: Path,
    data_dir: Path,
    *,
    python: str = sys.executable,
    cwd: Path | None = None,
    log: Path | None = None,
    cli: str = "freshrag_cli",
    **env: str,
) -> tuple[subprocess.Popen[bytes], httpx.Client]:
    """`freshrag up` on a free loopback port, once /readyz answers 200, in a session of its own so that
    `stop` ends everything it started. `log` keeps its output (else it is dropped); with `python -m`,
    `cwd` comes first on sys.path, so a build's own checkout (or a folder without one) belongs there. `cli`
    is the command line's module (`freshrag.cli` in checkouts older than its move out of the core)."""
    port = free_port()
    environment = (
        os.environ | {"FRESHRAG_MODEL_CACHE_DIR": str(MODEL_CACHE), "FRESHRAG_LOG_LEVEL": "WARNING"} | env
    )
    output: IO[bytes] | int = log.open("ab") if log is not None else subprocess.DEVNULL
    process = subprocess.Popen(
        [
            python,
            "-m",
            cli,
            "up",
            "--watch",
            str(folder),
            "--port",
            str(port),
            "--data-dir",
            str(data_dir),
            "--host",
            "127.0.0.1",
        ],
        env=environment,
        cwd=cwd,
        stdout=output,
        stderr=output,
        start_new_session=True,
    )
    if not isinstance(output, int):
        output.close()  # the child holds its own copy
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30, trust_env=False)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if process.poll() is not None:
            where = f"; see {log}" if log is not None else ""
            raise RuntimeError(f"freshrag up exited with {process.returncode}{where}")
        try:
            if client.get("/readyz").status_code == 200:
                return process, client
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    stop(process)
    raise RuntimeError("freshrag up did not become ready")


def stop(process: subprocess.Popen[bytes], grace: float = 60) -> None:
    """SIGTERM to the process group `start_up` made, then SIGKILL to whatever is left of it after `grace`."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        pass
    except ProcessLookupError:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # workers or children that outlived the leader
    process.wait(timeout=10)


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
