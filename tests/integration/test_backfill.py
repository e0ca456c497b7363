"""Backfills told apart from live edits, for real: a folder's worth of files arriving at once in a watched
folder, the start-up reconcile and `freshrag ingest` are reported as a backfill with its progress, and the
freshness of live edits is judged without them, so that a first bulk load never leaves the status page red."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from rich.console import Console

from freshrag.activity import freshness
from freshrag.backfill import BackfillProgress
from freshrag.documents import DocStatus
from freshrag.runtime import Runtime
from freshrag.state.health import CHANGES
from freshrag.status import collect_status
from freshrag_cli.ingest import run_ingest
from freshrag_cli.render import print_status
from services.api import create_app
from services.api.status_page import tile_states
from tests.conftest import eventually
from tests.integration.conftest import System

BULK = 63


def indexed(runtime: Runtime) -> int:
    return runtime.store.count_records().get(DocStatus.INDEXED, 0)


def finished_backfill(runtime: Runtime) -> dict[str, Any] | None:
    summary = BackfillProgress(runtime.health).summary()
    return summary if summary is not None and summary["state"] == "done" else None


def histogram_count(runtime: Runtime, name: str) -> float:
    return sum(
        sample.value
        for metric in runtime.metrics.registry.collect()
        for sample in metric.samples
        if sample.name == f"{name}_count"
    )


def test_a_folder_of_files_copied_in_is_a_backfill_and_freshness_stays_with_live_edits(
    start_system: Callable[..., System], tmp_path: Path
) -> None:
    system = start_system()
    runtime = system.runtime
    staging = tmp_path / "staging"
    staging.mkdir()
    for number in range(BULK):
        note = f"# Note {number}\n\nField note {number} on harbours.\n"
        (staging / f"note-{number:02}.md").write_text(note)
    for path in sorted(staging.iterdir()):  # they appear in the watched folder all at once, as a copy does
        path.rename(system.inbox / path.name)

    eventually(lambda: indexed(runtime) == BULK and system.settled(), timeout=180)
    backfill = eventually(lambda: finished_backfill(runtime), timeout=10)
    # Every file is in the run; a file whose events settled twice is queued (and done) twice.
    assert BULK <= backfill["queued"] == backfill["done"] <= BULK + 5
    logged = runtime.health.tail(CHANGES, 1000)
    assert [entry["origin"] for entry in logged] == ["backfill"] * BULK
    assert histogram_count(runtime, "freshrag_backfill_latency_seconds") == backfill["done"]
    assert histogram_count(runtime, "freshrag_update_latency_seconds") == 0

    time.sleep(11)  # past the burst window: the next save is someone editing
    (system.inbox / "note-07.md").write_text("# Note 7\n\nField note 7, revised: the harbour wall holds.\n")
    eventually(lambda: histogram_count(runtime, "freshrag_update_latency_seconds") == 1, timeout=30)
    status = collect_status(runtime)
    assert status["freshness"]["changes"] == 1  # the live edit alone
    assert status["freshness"]["p99_seconds"] < status["freshness"]["slo_seconds"]
    assert status["recent_changes"][0]["origin"] == "live"

    with TestClient(create_app(runtime)) as client:
        answer = client.get("/status").json()
        page = client.get("/").text
    applied = f"{backfill['done']} of {backfill['queued']} applied, finished"
    assert answer["backfill"]["queued"] == backfill["queued"]
    assert answer["backfill"]["state"] == "done"
    assert f"backfill: {applied}" in page
    console = Console(record=True, width=200)
    print_status(console, answer)
    assert applied in console.export_text()

    # 89 minutes later, idle: nothing to judge freshness by is not a failure.
    later = freshness(runtime.health.tail(CHANGES, 1000), status["now"] + 89 * 60)
    assert later["changes"] == 0
    assert tile_states(status | {"freshness": later})["freshness"] == "idle"


def test_the_start_up_reconcile_and_ingest_are_backfills(
    start_system: Callable[..., System], tmp_path: Path
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for name in ("owls.md", "tea.md", "moss.md"):
        (inbox / name).write_text(f"# {name}\n\nA note about {name.removesuffix('.md')}.\n")
    system = start_system()  # its start-up reconcile finds the three files
    runtime = system.runtime
    eventually(lambda: indexed(runtime) == 3 and system.settled(), timeout=60)
    backfill = eventually(lambda: finished_backfill(runtime), timeout=10)
    assert (backfill["queued"], backfill["done"]) == (3, 3)
    assert collect_status(runtime)["freshness"]["changes"] == 0
    assert histogram_count(runtime, "freshrag_update_latency_seconds") == 0

    extra = tmp_path / "extra"
    extra.mkdir()
    for name in ("ferns.md", "lichen.md"):
        (extra / name).write_text(f"# {name}\n\nA note about {name.removesuffix('.md')}.\n")
    run_ingest(runtime, [extra], Console(quiet=True))
    backfill = finished_backfill(runtime)
    assert backfill is not None
    assert (backfill["queued"], backfill["done"]) == (5, 5)  # right after the reconcile: the same run
    assert all(entry["origin"] == "backfill" for entry in runtime.health.tail(CHANGES, 1000))
    assert collect_status(runtime)["freshness"]["changes"] == 0
