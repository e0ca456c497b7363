"""Drop-to-searchable latency on `freshrag up`, idle machine, single small files.

Each file is written, then its record is polled (the record is written after the chunks, so a document
with status `indexed` is searchable) until it shows the new file. Several runs, each on a fresh instance.

    .venv/bin/python benchmarks/freshness.py [--runs 3] [--files 40]
"""

from __future__ import annotations

import argparse
import signal
import tempfile
import time
from pathlib import Path

from common import distribution, save, start_up

from freshrag.documents import file_doc_id, root_key


def one_run(files: int, **env: str) -> list[float]:
    """Latencies of `files` single-file drops on a fresh `freshrag up` started with `env`."""
    with tempfile.TemporaryDirectory() as scratch:
        inbox = Path(scratch) / "inbox"
        inbox.mkdir()
        process, client = start_up(inbox, Path(scratch) / "data", **env)
        key = root_key(inbox)
        latencies = []
        try:
            time.sleep(2)  # let start-up work finish: the machine is idle when measuring
            for number in range(files):
                name = f"note-{number}.md"
                started = time.perf_counter()
                (inbox / name).write_text(
                    f"# Note {number}\n\nMeeting notes number {number}: budget and hiring.\n"
                )
                while True:
                    answer = client.get(f"/documents/{file_doc_id(key, name)}")
                    if answer.status_code == 200 and answer.json()["status"] == "indexed":
                        break
                    time.sleep(0.005)
                latencies.append(time.perf_counter() - started)
                time.sleep(0.3)
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--files", type=int, default=40)
    args = parser.parse_args()
    runs = [one_run(args.files) for _ in range(args.runs)]
    save(
        "freshness",
        {
            "what": "drop-to-searchable seconds, freshrag up, single small files, idle machine",
            "per_run": [distribution(run) for run in runs],
            "all": distribution([latency for run in runs for latency in run]),
        },
    )


if __name__ == "__main__":
    main()
