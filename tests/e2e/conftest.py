"""End-to-end fixtures: the `freshrag` command run as a user runs it, in its own process."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import eventually

FRESHRAG = [sys.executable, "-m", "freshrag.cli"]


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("model-cache")


@pytest.fixture
def env(tmp_path: Path, model_cache: Path) -> dict[str, str]:
    values = {k: v for k, v in os.environ.items() if not k.startswith("FRESHRAG_")}
    values.update(
        FRESHRAG_DATA_DIR=str(tmp_path / "data"),
        FRESHRAG_MODEL_CACHE_DIR=str(model_cache),
        FRESHRAG_WATCH_SETTLE_SECONDS="0.1",
    )
    return values


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run(
    args: list[str], env: dict[str, str], cwd: Path, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*FRESHRAG, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout
    )


class Instance:
    def __init__(self, process: subprocess.Popen[str], url: str, log: Path) -> None:
        self.process = process
        self.url = url
        self.log = log
        self.http = httpx.Client(base_url=url, timeout=30)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                return self.process.wait()
        return int(self.process.returncode)


@pytest.fixture
def start_up(tmp_path: Path, env: dict[str, str]) -> Iterator[Callable[..., Instance]]:
    instances: list[Instance] = []

    def start(*args: str) -> Instance:
        port = free_port()
        log = tmp_path / f"up-{port}.log"
        handle = log.open("w")
        process = subprocess.Popen(
            [*FRESHRAG, "up", "--port", str(port), *args],
            env=env,
            cwd=tmp_path,
            stdout=handle,
            stderr=subprocess.STDOUT,
            text=True,
        )
        instance = Instance(process, f"http://127.0.0.1:{port}", log)
        instances.append(instance)

        def ready() -> bool:
            if process.poll() is not None:
                pytest.fail(f"freshrag up exited with {process.returncode}:\n{log.read_text()}")
            try:
                return instance.http.get("/readyz").status_code == 200
            except httpx.TransportError:
                return False

        eventually(ready, timeout=180, interval=0.25)
        return instance

    yield start
    for instance in instances:
        instance.stop()
