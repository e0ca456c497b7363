"""What freshrag makes of the 63 real files of ../shared/data/files.

By default each file is parsed as ingest parses it (in the parser pool, with the default limits) and counted
as indexed (text found), skipped or failed, with the reason and the parser that read it. With `--ingest`,
the files are copied into a temporary folder and `freshrag ingest` loads it for real (parse, chunk, embed,
store), then `freshrag status --json` says how many documents ended in each status; `--checkout DIR` runs
another build's code (for a before/after comparison).

    PYTHONPATH=. .venv/bin/python benchmarks/shared_files.py [--ingest [--checkout ../main]]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from common import MODEL_CACHE, PROJECT, SHARED_DATA, save

from freshrag.parsing import ParsedDocument, parse_file

NOT_DATA = {"MANIFEST.tsv", "SOURCE.txt"}


def data_files() -> list[Path]:
    root = SHARED_DATA / "files"
    return sorted(p for p in root.rglob("*") if p.is_file() and p.name not in NOT_DATA)


def parse_each() -> dict[str, Any]:
    root = SHARED_DATA / "files"
    rows: list[dict[str, Any]] = []
    for path in data_files():
        started = time.perf_counter()
        result = parse_file(path.name, path.read_bytes())
        seconds = round(time.perf_counter() - started, 3)
        row: dict[str, Any] = {"file": str(path.relative_to(root)), "seconds": seconds}
        if isinstance(result, ParsedDocument):
            row.update(outcome="indexed", parser=result.parser, ocr_pages=result.ocr_pages)
        else:
            row.update(outcome=type(result).__name__.lower(), reason=result.reason)
        rows.append(row)
        print(row)
    counts = Counter(row["outcome"] for row in rows)
    return {"files": len(rows), "outcomes": dict(counts), "rows": rows}


def ingest_all(checkout: Path) -> dict[str, Any]:
    root = SHARED_DATA / "files"
    with tempfile.TemporaryDirectory() as scratch:
        inbox = Path(scratch) / "inbox"
        for path in data_files():
            target = inbox / path.relative_to(root)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
        data_dir = Path(scratch) / "data"
        command = [sys.executable, "-m", "freshrag_cli"]
        env = os.environ | {"FRESHRAG_MODEL_CACHE_DIR": str(MODEL_CACHE)}  # the model exported once
        started = time.perf_counter()
        done = subprocess.run(
            [*command, "ingest", str(inbox), "--data-dir", str(data_dir)], cwd=checkout, check=False
        )
        seconds = time.perf_counter() - started
        status = subprocess.run(
            [*command, "status", "--json", "--data-dir", str(data_dir)],
            cwd=checkout,
            env=env,
            check=True,
            capture_output=True,
        )
    summary = json.loads(status.stdout)
    return {
        "checkout": str(checkout),
        "ingest_exit_status": done.returncode,
        "ingest_seconds": round(seconds, 1),
        "documents": summary["documents"],
        "not_indexed": [
            {
                "file": Path(p["uri"]).relative_to(inbox).as_posix(),
                "status": p["status"],
                "reason": p["reason"],
            }
            for p in summary["problems"]
        ],
        "problems_by_reason": summary.get("problems_by_reason"),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ingest", action="store_true")
    parser.add_argument("--checkout", type=Path, default=PROJECT)
    args = parser.parse_args()
    if args.ingest:
        name = "shared_files_ingest" if args.checkout.resolve() == PROJECT else "shared_files_ingest_other"
        save(name, ingest_all(args.checkout.resolve()))
    else:
        save("shared_files", parse_each())


if __name__ == "__main__":
    main()
