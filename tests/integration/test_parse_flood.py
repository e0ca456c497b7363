"""Real PDF, DOCX and HTML files dropped ten times over into a watched folder at once: each copy ends indexed,
skipped or failed with a reason, and search answers throughout (parsing runs in parser processes, never in
the threads that serve)."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable
from pathlib import Path

from freshrag.documents import DocStatus
from tests.conftest import eventually
from tests.integration.conftest import System

KINDS = ("pdf", "docx", "html")
MAX_BYTES = 120_000  # the larger files add minutes of embedding and nothing the parsers have not seen
COPIES = 10


def test_ten_copies_of_every_small_native_file_end_with_a_status_while_search_answers(
    start_system: Callable[..., System], shared_data: Path
) -> None:
    originals = [
        path
        for kind in KINDS
        for path in sorted((shared_data / "files" / kind).iterdir())
        if path.is_file() and path.stat().st_size <= MAX_BYTES
    ]
    assert len(originals) >= 10
    system = start_system()
    staging = system.inbox.parent / "staging"
    for copy in range(COPIES):
        folder = staging / f"copy-{copy}"
        folder.mkdir(parents=True)
        for path in originals:
            shutil.copy(path, folder / path.name)
    answers: list[int] = []
    failures: list[BaseException] = []
    done = threading.Event()

    def search_throughout() -> None:
        while not done.is_set():
            try:
                answers.append(len(system.runtime.search.search("document table", 5).results))
            except BaseException as exc:  # any failure of a search is what this test looks for
                failures.append(exc)

    searcher = threading.Thread(target=search_throughout)
    searcher.start()
    try:
        for folder in sorted(staging.iterdir()):
            folder.rename(system.inbox / folder.name)  # all copies land at once, ten folders
        expected = len(originals) * COPIES
        settled = (DocStatus.INDEXED, DocStatus.SKIPPED, DocStatus.FAILED)

        def every_copy_settled() -> bool:
            records = [r for status in settled for r in system.runtime.store.records(status=status)]
            return len(records) == expected and system.settled()

        eventually(every_copy_settled, timeout=600, interval=1.0)
    finally:
        done.set()
        searcher.join()
    assert failures == []
    assert answers
    assert answers[-1] == 5
    not_indexed = [
        r
        for status in (DocStatus.SKIPPED, DocStatus.FAILED)
        for r in system.runtime.store.records(status=status)
    ]
    assert all(r.reason for r in not_indexed)
    indexed = list(system.runtime.store.records(status=DocStatus.INDEXED))
    assert len(indexed) >= COPIES * (len(originals) - 3)  # an encrypted or broken sample may not index
