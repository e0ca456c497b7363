"""Incremental re-embedding: what an edit costs.

Part 1: one paragraph edited in a 50-chunk Markdown document (sectioned, and one long unsectioned body).
Part 2: the first N commits of FastAPI's documentation history replayed into a watched folder (real watcher,
real worker), one commit every `--pace` seconds: chunks embedded against chunks in the documents touched,
then the index compared with the folder.

    .venv/bin/python benchmarks/incremental.py [--commits 500] [--pace 0.25]
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from collections import Counter
from pathlib import Path

from common import MODEL_CACHE, SHARED_DATA, save

from freshrag.documents import DocStatus
from freshrag.embedding import load_embedder
from freshrag.parsing import ParsedDocument, parse_file
from freshrag.runtime import Runtime, build_runtime
from freshrag.settings import load_settings
from freshrag.sources import WatchedFolder
from services.watcher import FolderWatcher
from workers.app import InProcessWorker


def fifty_chunks(sectioned: bool, edited: int | None = None) -> str:
    parts = ["# Handbook"]
    for number in range(50):
        body = " ".join(
            f"Rule {number} clause {i} explains the procedure for case {number}." for i in range(12)
        )
        if number == edited:
            body += " This clause was amended last week."
        parts.append(f"## Rule {number}\n\n{body}" if sectioned else body)
    return "\n\n".join(parts)


def single_edit(runtime: Runtime, folder: Path) -> dict[str, object]:
    results = {}
    for sectioned in (True, False):
        path = folder / f"handbook-{'sections' if sectioned else 'flat'}.md"
        change = WatchedFolder.of(folder).change_for(path.name)
        path.write_text(fifty_chunks(sectioned))
        first = runtime.indexer.apply(change)
        edits = []
        for position in (5, 25, 45):
            path.write_text(fifty_chunks(sectioned, edited=position))
            edits.append(runtime.indexer.apply(change).embedded)
            path.write_text(fifty_chunks(sectioned))
            runtime.indexer.apply(change)
        results["sectioned" if sectioned else "one long section"] = {
            "chunks": first.embedded,
            "re_embedded_per_one_paragraph_edit": edits,
        }
    return results


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


def replay(runtime: Runtime, inbox: Path, commits: int, pace: float) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as scratch:
        repo = Path(scratch) / "history"
        subprocess.run(
            ["git", "clone", "-q", str(SHARED_DATA / "history" / "fastapi-docs-en.bundle"), str(repo)],
            check=True,
        )
        order = git(repo, "rev-list", "--reverse", "HEAD").split()[:commits]
        worker = InProcessWorker(runtime)
        worker.start()
        watcher = FolderWatcher(
            runtime.folders, runtime.rules, runtime.queue, runtime.settings.watch_settle_seconds
        )
        watcher.start()
        embedded_before = runtime.metrics.chunks_embedded._value.get()
        reused_before = runtime.metrics.chunks_reused._value.get()
        operations: Counter[str] = Counter()
        started = time.perf_counter()
        previous = None
        for commit in order:
            if previous is None:
                changes = [
                    ("A", path)
                    for path in git(repo, "ls-tree", "-r", "--name-only", commit).split("\n")
                    if path
                ]
            else:
                changes = [
                    tuple(line.split("\t"))
                    for line in git(repo, "diff", "--name-status", "-M", previous, commit).splitlines()
                ]
            for change in changes:
                kind = change[0][0]
                operations[kind] += 1
                if kind in ("D", "R"):
                    (inbox / change[1]).unlink(missing_ok=True)
                if kind in ("A", "M", "R", "C"):
                    target = inbox / change[-1]
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(
                        subprocess.run(
                            ["git", "-C", str(repo), "show", f"{commit}:{change[-1]}"],
                            check=True,
                            capture_output=True,
                        ).stdout
                    )
            previous = commit
            time.sleep(pace)
        deadline = time.monotonic() + 600
        while not matches(runtime, inbox) and time.monotonic() < deadline:
            time.sleep(1)
        elapsed = time.perf_counter() - started
        converged = matches(runtime, inbox)
        watcher.stop()
        worker.stop()
    embedded = runtime.metrics.chunks_embedded._value.get() - embedded_before
    reused = runtime.metrics.chunks_reused._value.get() - reused_before
    return {
        "commits": len(order),
        "file_operations": dict(operations),
        "chunks_embedded": int(embedded),
        "chunks_in_touched_documents": int(embedded + reused),
        "embedded_share": round(embedded / (embedded + reused), 3) if embedded + reused else None,
        "final_index_equals_folder": converged,
        "seconds": round(elapsed, 1),
    }


def matches(runtime: Runtime, inbox: Path) -> bool:
    """The index holds exactly the chunks of the folder's current files, no more, no less."""
    expected: dict[str, Counter[str]] = {}
    for path in inbox.rglob("*"):
        if path.is_file() and not runtime.rules.ignores(path.relative_to(inbox).as_posix()):
            parsed = parse_file(path.name, path.read_bytes())
            if isinstance(parsed, ParsedDocument):
                expected[str(path)] = Counter(chunk.text for chunk in runtime.chunker.chunk(parsed))
    actual: dict[str, Counter[str]] = {}
    for payload in runtime.store.all_chunk_payloads():
        actual.setdefault(payload["uri"], Counter())[payload["text"]] += 1
    indexed = {record.uri for record in runtime.store.records(status=DocStatus.INDEXED)}
    return expected == actual and indexed == set(expected)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--commits", type=int, default=500)
    parser.add_argument("--pace", type=float, default=0.25)
    args = parser.parse_args()
    embedder = load_embedder(load_settings(model_cache_dir=MODEL_CACHE))
    with tempfile.TemporaryDirectory() as scratch:
        edits = Path(scratch) / "edits"
        edits.mkdir()
        runtime = build_runtime(
            load_settings(data_dir=Path(scratch) / "a", model_cache_dir=MODEL_CACHE), embedder=embedder
        )
        single = single_edit(runtime, edits)
        runtime.close()
        inbox = Path(scratch) / "docs"
        inbox.mkdir()
        runtime = build_runtime(
            load_settings(
                data_dir=Path(scratch) / "b",
                model_cache_dir=MODEL_CACHE,
                watch=(inbox,),
                reconcile_interval_seconds=0,
            ),
            embedder=embedder,
        )
        history = replay(runtime, inbox, args.commits, args.pace)
        runtime.close()
    save("incremental", {"single_paragraph_edit": single, "history_replay": history})


if __name__ == "__main__":
    main()
