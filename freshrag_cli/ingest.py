"""`freshrag ingest`: bulk-load files without a running instance, with a progress bar and a summary."""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from freshrag.backfill import BackfillProgress
from freshrag.documents import Change, Origin
from freshrag.pipeline import Outcome
from freshrag.reconcile import folder_changes
from freshrag.runtime import Runtime
from freshrag.sources import WatchedFolder

# Documents per embedding batch: big enough to keep the model busy, small enough to show progress.
_BATCH = 128


def plan_ingest(runtime: Runtime, paths: list[Path]) -> list[Change]:
    """Changes that bring the index in line with `paths` (folders are reconciled, files taken as they are),
    all of them a backfill."""
    changes: list[Change] = []
    for path in paths:
        if path.is_dir():
            changes.extend(folder_changes(runtime.store, WatchedFolder.of(path), runtime.rules))
        elif path.exists():
            folder = WatchedFolder.of(path.resolve().parent)
            changes.append(replace(folder.change_for(path.name), origin=Origin.BACKFILL))
        else:
            raise FileNotFoundError(f"{path}: no such file or folder")
    return changes


def run_ingest(runtime: Runtime, paths: list[Path], console: Console) -> list[Outcome]:
    changes = plan_ingest(runtime, paths)
    backfill = BackfillProgress(runtime.health)
    backfill.queued(len(changes))
    started = time.perf_counter()
    outcomes: list[Outcome] = []
    columns = (
        TextColumn("[bold]ingesting"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[chunks]} chunks embedded"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("ingest", total=len(changes), chunks=0)
        batches = [changes[i : i + _BATCH] for i in range(0, len(changes), _BATCH)]
        # Two batches in flight: one parses and chunks while the other is in the model.
        with ThreadPoolExecutor(max_workers=2) as pool:
            for done in pool.map(runtime.indexer.apply_many, batches):
                outcomes.extend(done)
                backfill.done(len(done))
                embedded = sum(outcome.embedded for outcome in outcomes)
                progress.update(task, advance=len(done), chunks=embedded)
    _summarise(console, outcomes, time.perf_counter() - started)
    return outcomes


def build_index_if_large(runtime: Runtime, console: Console) -> bool:
    """Build the embedded store's vector index (HNSW) once it holds FRESHRAG_INDEX_BUILD_MIN_CHUNKS chunks.

    The build holds the whole process for its run (minutes at 100k chunks on two cores), which is why it
    happens here, where nothing else waits on the process, and never in `freshrag up`. Below the threshold
    the plain segments answer a hybrid search in milliseconds and need no build."""
    chunks = runtime.store.count_chunks()
    if runtime.settings.qdrant_url or chunks < runtime.settings.index_build_min_chunks:
        return False
    console.print(f"building the vector index for {chunks} chunks (once; searches are faster after it)...")
    started = time.perf_counter()
    built = runtime.store.optimize()
    console.print(
        f"vector index {'built' if built else 'already built'} in {time.perf_counter() - started:.1f} s"
    )
    return built


def _summarise(console: Console, outcomes: list[Outcome], seconds: float) -> None:
    counts = Counter(outcome.outcome for outcome in outcomes)
    embedded = sum(outcome.embedded for outcome in outcomes)
    reused = sum(outcome.reused for outcome in outcomes)
    table = Table(title="ingest summary", show_header=False)
    for name, count in sorted(counts.items()):
        table.add_row(f"documents {name}", str(count))
    table.add_row("chunks embedded", str(embedded))
    table.add_row("chunks reused", str(reused))
    table.add_row("time", f"{seconds:.1f} s")
    table.add_row("throughput", f"{embedded / seconds:.1f} chunks/s" if seconds > 0 else "-")
    console.print(table)
    problems = [o for o in outcomes if o.outcome in ("skipped", "failed")]
    if problems:
        listing = Table(title="not indexed")
        listing.add_column("status")
        listing.add_column("document")
        listing.add_column("reason")
        for outcome in problems:
            listing.add_row(outcome.outcome, outcome.doc_id, outcome.reason or "")
        console.print(listing)
