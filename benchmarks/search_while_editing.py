"""Search under load while the watched folder changes: 20 clients searching back to back for 30 s while
300 file operations (creates, edits, renames, deletes) land in the folder; then, once settled, the index
must equal the folder.

    .venv/bin/python benchmarks/search_while_editing.py [--clients 20] [--seconds 30] [--operations 300]
        [--docs 500] [--json]

`freshrag up` starts on a folder of SciFact abstracts (ingested first, as a user would); the operations are
spread evenly over the load window and drawn with a fixed seed. Afterwards the script waits until nothing
is pending and compares the folder with `GET /documents?status=indexed` (missing and orphaned documents)
and, for each file, a keyword search for its last line with what it finds of that file (stale text).
Errors are any answer but 200.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from common import save, start_up, stop
from search_load import Build, Load, drive, ingest, load_queries, scifact_rows, wait_indexed

SETTLE_TIMEOUT = 600


def operate(inbox: Path, count: int, seconds: float, draw: random.Random) -> dict[str, int]:
    """`count` file operations spread over `seconds`: create, edit, rename or delete a file."""
    spare = scifact_rows(10_000)[5_000:]
    done = {"create": 0, "edit": 0, "rename": 0, "delete": 0}
    for number in range(count):
        files = sorted(inbox.glob("*.md"))
        kind = draw.choice(["create", "edit", "edit", "rename", "delete"]) if files else "create"
        if kind == "create":
            row = spare[number % len(spare)]
            (inbox / f"new-{number}-{row['_id']}.md").write_text(f"# {row['title']}\n\n{row['text']}\n")
        elif kind == "edit":
            path = draw.choice(files)
            path.write_text(path.read_text() + f"\nRevision {number} of this note.\n")
        elif kind == "rename":
            path = draw.choice(files)
            path.rename(inbox / f"renamed-{number}-{path.name}")
        else:
            draw.choice(files).unlink()
        done[kind] += 1
        time.sleep(seconds / count)
    return done


def settle(client: httpx.Client) -> float:
    """Seconds until nothing is pending (queue empty, nothing pending in the records) twice in a row."""
    started = time.monotonic()
    calm = 0
    while time.monotonic() - started < SETTLE_TIMEOUT:
        status = client.get("/status").json()
        pending = status["queue_depth"] + status["documents"].get("pending", 0)
        calm = calm + 1 if pending == 0 else 0
        if calm >= 2:
            return time.monotonic() - started
        time.sleep(1.0)
    raise RuntimeError("the folder's changes did not settle")


def compare(client: httpx.Client, inbox: Path) -> dict[str, int]:
    """The index against the folder: documents missing, orphaned (indexed, no file), and stale text."""
    indexed = client.get("/documents", params={"status": "indexed", "limit": 10_000}).json()["documents"]
    by_uri = {document["uri"]: document for document in indexed}
    files = {str(path.resolve()): path for path in inbox.glob("*.md")}
    missing = [uri for uri in files if uri not in by_uri]
    orphaned = [uri for uri in by_uri if uri not in files]
    stale = 0
    for uri, path in files.items():
        if uri not in by_uri:
            continue
        text = path.read_text()
        last_line = text.strip().splitlines()[-1]
        hits = client.get("/search", params={"q": last_line, "k": 20, "mode": "keyword"}).json()["results"]
        mine = [hit for hit in hits if hit["uri"] == uri]
        if not mine or not any(hit["text"].strip().splitlines()[-1] in text for hit in mine):
            stale += 1
    return {
        "files": len(files),
        "indexed": len(by_uri),
        "missing": len(missing),
        "orphaned": len(orphaned),
        "stale": stale,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--operations", type=int, default=300)
    parser.add_argument("--docs", type=int, default=500)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    build = Build("this", Path(__file__).resolve().parent.parent, __import__("sys").executable)
    queries = load_queries()
    with tempfile.TemporaryDirectory(prefix="search-editing-") as scratch:
        inbox, data_dir, log = Path(scratch) / "inbox", Path(scratch) / "data", Path(scratch) / "freshrag.log"
        inbox.mkdir()
        for row in scifact_rows(args.docs):
            (inbox / f"{row['_id']}.md").write_text(f"# {row['title']}\n\n{row['text']}\n")
        ingest(build, inbox, data_dir, log)
        process, client = start_up(inbox, data_dir, cwd=build.path, log=log, cli=build.cli, **build.env())
        try:
            wait_indexed(client, args.docs)
            load = Load()
            until = time.monotonic() + args.seconds
            searching = threading.Thread(
                target=drive, args=(str(client.base_url), "hybrid", queries, args.clients, until, load)
            )
            searching.start()
            operations = operate(inbox, args.operations, args.seconds * 0.9, random.Random(7))
            searching.join()
            settled = settle(client)
            result: dict[str, Any] = {
                "clients": args.clients,
                "seconds": args.seconds,
                "operations": operations,
                "search": load.figures(),
                "settled_after_s": round(settled, 1),
                "index_against_folder": compare(client, inbox),
            }
        finally:
            stop(process)
            client.close()
    save("search_while_editing", result)
    print(json.dumps(result, indent=None if args.json else 2))


if __name__ == "__main__":
    main()
