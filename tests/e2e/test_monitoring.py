"""The monitoring stack for real: Debian's Prometheus scrapes `freshrag up` while files change; every panel
query of every dashboard returns data and every alert and recording rule evaluates; the status page is
loaded in headless Chromium, checked, and kept as a screenshot."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.conftest import eventually
from tests.e2e.conftest import Instance
from tests.fake_openai import FakeOpenAI, answer_from_passages, fake_openai
from tests.redis_server import free_port

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "monitoring"
# Grafana's built-in variables, as a dashboard over the last few minutes would set them.
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$__range": "5m", "$__interval": "5s"}
ARTIFACTS = Path(os.environ.get("FRESHRAG_ARTIFACTS_DIR", ROOT / "artifacts"))


def panel_queries() -> list[tuple[str, str, str]]:
    """(dashboard, panel title, PromQL) of every target of every panel, rows included."""
    queries = []
    for path in sorted((MONITORING / "grafana" / "dashboards").glob("*.json")):
        dashboard = json.loads(path.read_text())
        panels = list(dashboard["panels"])
        while panels:
            panel = panels.pop(0)
            panels.extend(panel.get("panels", []))
            for target in panel.get("targets", []):
                expr = target.get("expr", "")
                for variable, value in GRAFANA_VARIABLES.items():
                    expr = expr.replace(variable, value)
                if expr:
                    queries.append((path.stem, panel.get("title", "?"), expr))
    return queries


def rule_expressions() -> list[tuple[str, str]]:
    rules = []
    for path in sorted((MONITORING / "prometheus" / "rules").glob("*.yml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                rules.append((rule.get("alert") or rule["record"], rule["expr"]))
    return rules


@pytest.fixture
def prometheus(tmp_path: Path) -> Iterator[Callable[[int], httpx.Client]]:
    processes: list[subprocess.Popen[bytes]] = []

    def start(target_port: int) -> httpx.Client:
        binary = shutil.which("prometheus")
        assert binary, "Debian's prometheus is needed (make test installs it as root: scripts/system-deps)"
        port = free_port()
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(path) for path in sorted((MONITORING / "prometheus" / "rules").glob("*.yml"))],
            "scrape_configs": [
                {"job_name": "freshrag-api", "static_configs": [{"targets": [f"127.0.0.1:{target_port}"]}]}
            ],
        }
        (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
        log = (tmp_path / "prometheus.log").open("w")
        processes.append(
            subprocess.Popen(
                [
                    binary,
                    f"--config.file={tmp_path / 'prometheus.yml'}",
                    f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                    f"--web.listen-address=127.0.0.1:{port}",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
        client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)
        eventually(lambda: _ready(client), timeout=60, interval=0.25)
        return client

    yield start
    for process in processes:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture
def answer_model() -> Iterator[FakeOpenAI]:
    with fake_openai() as fake:
        fake.chat_reply = answer_from_passages
        yield fake


def _ready(client: httpx.Client) -> bool:
    try:
        return client.get("/-/ready").status_code == 200
    except httpx.TransportError:
        return False


def query(client: httpx.Client, expr: str) -> dict[str, Any]:
    answer: dict[str, Any] = client.get("/api/v1/query", params={"query": expr}).json()
    return answer


def write_golden_set(folder: Path, titles: dict[str, str]) -> None:
    """Queries are abstract titles; each judges the file holding that abstract, by its relative path."""
    (folder / "qrels").mkdir(parents=True)
    ids = {f"q{number}": (title, path) for number, (title, path) in enumerate(titles.items())}
    (folder / "queries.jsonl").write_text(
        "".join(json.dumps({"_id": key, "text": title}) + "\n" for key, (title, _) in ids.items())
    )
    rows = "".join(f"{key}\t{path}\t1\n" for key, (_, path) in ids.items())
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n" + rows)


def test_prometheus_scrapes_freshrag_and_every_panel_and_rule_works(
    start_up: Callable[..., Instance],
    prometheus: Callable[[int], httpx.Client],
    answer_model: FakeOpenAI,
    tmp_path: Path,
    abstracts: list[str],
) -> None:
    inbox, golden = tmp_path / "inbox", tmp_path / "golden"
    inbox.mkdir()
    titles = {}
    for number, text in enumerate(abstracts[:12]):
        (inbox / "papers" / f"{number}.md").parent.mkdir(exist_ok=True)
        (inbox / "papers" / f"{number}.md").write_text(text)
        titles[re.findall(r"^## (.+)$", text, re.MULTILINE)[0]] = f"papers/{number}.md"
    write_golden_set(golden, titles)
    up = start_up(
        "--watch",
        "inbox",
        extra_env={
            "FRESHRAG_CANARY_INTERVAL_SECONDS": "1",
            "FRESHRAG_DRIFT_INTERVAL_SECONDS": "2",
            "FRESHRAG_DRIFT_WINDOW": "20",
            "FRESHRAG_GOLDEN_SET": str(golden),
            "FRESHRAG_GOLDEN_INTERVAL_SECONDS": "2",
            "FRESHRAG_OPENAI_BASE_URL": answer_model.base_url,
            "FRESHRAG_OPENAI_API_KEY": "sk-test",
        },
    )
    prom = prometheus(int(up.url.rsplit(":", 1)[1]))

    # Files keep changing while Prometheus scrapes; users search and ask, some for what the corpus lacks.
    for number, text in enumerate(abstracts[12:24]):
        (inbox / "papers" / f"{number}.md").write_text(text)  # edits
        (inbox / f"new-{number}.md").write_text(text)  # additions
        for title in list(titles)[number % 6 :][:3]:
            up.http.get("/search", params={"q": title})
        up.http.get("/search", params={"q": f"cheap flights to lisbon in march {number}"})
        asked = up.http.post("/ask", json={"question": list(titles)[number % len(titles)]})
        assert asked.status_code == 200, asked.text
        time.sleep(0.5)
    (inbox / "new-0.md").unlink()
    # A CMS whose secret is not configured yet: refused, and counted.
    assert up.http.post("/webhooks/generic", json={"type": "entry.updated"}).status_code == 401

    def scraped_everything() -> bool:
        names = {
            "freshrag_embedding_drift",
            "freshrag_retrieval_ndcg_at_10",
            "freshrag_canary_latency_seconds_count",
        }
        return all(query(prom, name)["data"]["result"] for name in names)

    eventually(scraped_everything, timeout=60, interval=1)
    time.sleep(3)  # a few more scrapes and rule evaluations

    empty = []
    for dashboard, title, expr in panel_queries():
        answer = query(prom, expr)
        assert answer["status"] == "success", f"{dashboard} / {title}: {expr}: {answer}"
        if not answer["data"]["result"]:
            empty.append(f"{dashboard} / {title}: {expr}")
    assert not empty, "panels without data:\n" + "\n".join(empty)
    assert len(panel_queries()) >= 20

    for name, expr in rule_expressions():
        answer = query(prom, expr)
        assert answer["status"] == "success", f"{name}: {expr}: {answer}"
    groups = prom.get("/api/v1/rules").json()["data"]["groups"]
    rules = [rule for group in groups for rule in group["rules"]]
    assert len(rules) == len(rule_expressions())
    assert all(rule["health"] == "ok" for rule in rules), [r for r in rules if r["health"] != "ok"]
    firing = {rule["name"] for rule in rules if rule.get("state") == "firing"}
    assert not firing, f"alerts firing on a healthy instance: {firing}"

    check_status_page(up, tmp_path)


def check_status_page(up: Instance, tmp_path: Path) -> None:
    binary = shutil.which("chromium")
    assert binary, "Debian's chromium is needed (make test installs it as root: scripts/system-deps)"
    flags = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
    dom = subprocess.run(
        [*flags, "--dump-dom", up.url + "/"], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    sections = ("freshness", "backlog", "canary", "workers", "changes", "quality", "drift", "gaps", "answers")
    for section in (*sections, "advice"):
        assert f'id="{section}"' in dom, section
    assert "cheap flights to lisbon" in dom  # a knowledge gap
    assert "new-11.md" in dom  # a latest change
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    screenshot = ARTIFACTS / "status-page.png"
    subprocess.run(
        [*flags, "--window-size=1280,2200", f"--screenshot={screenshot}", up.url + "/"],
        capture_output=True,
        timeout=120,
        check=True,
        cwd=tmp_path,
    )
    assert screenshot.stat().st_size > 20_000  # a rendered page, not a blank one
