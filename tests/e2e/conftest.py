"""End-to-end fixtures: the `freshrag` command run as a user runs it, in its own process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import eventually
from tests.redis_server import free_port

FRESHRAG = [sys.executable, "-m", "freshrag_cli"]


@pytest.fixture
def env(tmp_path: Path, models_dir: Path) -> dict[str, str]:
    values = {k: v for k, v in os.environ.items() if not k.startswith("FRESHRAG_")}
    values.update(
        FRESHRAG_DATA_DIR=str(tmp_path / "data"),
        FRESHRAG_MODEL_CACHE_DIR=str(models_dir),
        FRESHRAG_WATCH_SETTLE_SECONDS="0.1",
    )
    return values


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
def spawn(tmp_path: Path, env: dict[str, str]) -> Iterator[Callable[..., Instance]]:
    """Start `freshrag ARGS...` in the background with `env` plus `extra_env`, logging to a file."""
    instances: list[Instance] = []

    def start(*args: str, extra_env: dict[str, str] | None = None, url: str = "") -> Instance:
        log = tmp_path / f"{args[0]}-{len(instances)}.log"
        handle = log.open("w")
        process = subprocess.Popen(
            [*FRESHRAG, *args],
            env=env | (extra_env or {}),
            cwd=tmp_path,
            stdout=handle,
            stderr=subprocess.STDOUT,
            text=True,
        )
        instance = Instance(process, url, log)
        instances.append(instance)
        return instance

    yield start
    for instance in instances:
        instance.stop()


@pytest.fixture
def start_up(spawn: Callable[..., Instance]) -> Callable[..., Instance]:
    """Start `freshrag up` and wait until it is ready."""

    def start(*args: str, extra_env: dict[str, str] | None = None) -> Instance:
        port = free_port()
        instance = spawn(
            "up", "--port", str(port), *args, extra_env=extra_env, url=f"http://127.0.0.1:{port}"
        )
        wait_ready(instance)
        return instance

    return start


def wait_ready(instance: Instance) -> None:
    def ready() -> bool:
        if instance.process.poll() is not None:
            pytest.fail(f"freshrag exited with {instance.process.returncode}:\n{instance.log.read_text()}")
        try:
            return instance.http.get("/readyz").status_code == 200
        except httpx.TransportError:
            return False

    eventually(ready, timeout=180, interval=0.25)


@pytest.fixture
def abstracts(shared_data: Path) -> list[str]:
    """Real text: SciFact abstracts, five to a file so each file is several chunks long."""
    texts = []
    with (shared_data / "ir" / "scifact" / "corpus.jsonl").open() as corpus:
        for line, _ in zip(corpus, range(200), strict=False):
            entry = json.loads(line)
            texts.append(f"## {entry['title']}\n\n{entry['text']}")
    return ["\n\n".join(texts[i : i + 5]) for i in range(0, 200, 5)]
