"""`freshrag up` stopped (SIGTERM) while it indexes a big document: it exits within seconds, and the next
start indexes the document in full."""

from __future__ import annotations

import random
import re
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from tests.conftest import eventually
from tests.e2e.conftest import Instance

WORDS = ("river", "harbour", "lantern", "granite", "orchard", "meadow", "copper", "signal", "glacier")
RECEIVED = re.compile(r"freshrag\.index_document\[[^]]+\] received")


def big_text(size: int) -> str:
    """About `size` bytes of prose-like text, every paragraph different (so every chunk is new)."""
    rng = random.Random(7)
    paragraphs = []
    total = 0
    while total < size:
        number = len(paragraphs)
        words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(60, 120)))
        paragraph = f"Paragraph {number} of the survey notes {words}."
        paragraphs.append(paragraph)
        total += len(paragraph) + 2
    return "\n\n".join(paragraphs)


def test_up_stops_within_seconds_while_indexing_a_big_file_and_indexes_it_at_the_next_start(
    start_up: Callable[..., Instance], tmp_path: Path
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    quiet = {"FRESHRAG_CANARY_INTERVAL_SECONDS": "0"}  # the canary's own index runs would blur the log
    up = start_up("--watch", "inbox", extra_env=quiet)
    (inbox / "survey.txt").write_text(big_text(1_500_000))
    # The worker took the change; parsing, chunking and embedding its thousands of chunks take a minute.
    eventually(lambda: RECEIVED.search(up.log.read_text()), timeout=60)
    time.sleep(2)

    stopping = time.monotonic()
    up.process.send_signal(signal.SIGTERM)
    try:
        code = up.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        code = None
    took = time.monotonic() - stopping
    assert code == 0, f"exit {code} after {took:.1f} s:\n{up.log.read_text()[-3000:]}"
    assert took < 10, f"took {took:.1f} s to stop:\n{up.log.read_text()[-3000:]}"

    # Nothing of it was written; the start-up reconcile finds the file and indexes it in full.
    again = start_up("--watch", "inbox", extra_env=quiet)

    def indexed() -> list[dict[str, object]]:
        documents = again.http.get("/documents", params={"status": "indexed"}).json()["documents"]
        return [doc for doc in documents if str(doc["uri"]).endswith("survey.txt")]

    document = eventually(indexed, timeout=240, interval=1)[0]
    assert int(str(document["chunk_count"])) > 1000
    last = big_text(1_500_000).rsplit("\n\n", 1)[-1]
    opening = last[: last.index(" of the survey")]  # "Paragraph N": the end of the file is searchable
    hits = again.http.get("/search", params={"q": last[:200], "k": 5, "mode": "keyword"}).json()["results"]
    assert any(f"{opening} of the survey" in hit["text"] for hit in hits), hits
