"""Parser isolation: a crash, hang or memory blow-up of a parser fails that one file with a reason, never the
process that asked; real PDF, DOCX and HTML files parse from many threads at once as they do one by one."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from freshrag.parsing import (
    PARSERS,
    Failed,
    ParsedDocument,
    ParseLimits,
    ParseOptions,
    Parser,
    ParseResult,
    ParserPool,
    ParsingUnavailable,
)
from tests import parsing_faults
from tests.conftest import PROJECT, eventually

NATIVE = {".pdf", ".docx", ".html", ".htm", ".xhtml"}
MEMORY_MB = 512

# What each faulty parser must come to, whatever else runs beside it.
FAULTS: dict[Parser, str] = {
    parsing_faults.segfault: "parser crashed (signal 11, SIGSEGV)",
    parsing_faults.abort: "parser crashed (signal 6, SIGABRT)",
    parsing_faults.exhaust_memory: f"parser exceeded {MEMORY_MB} MiB",
    parsing_faults.exit_quietly: "parser exited unexpectedly (status 3)",
    parsing_faults.raise_error: "parser raised ValueError: cannot read fault",
}


def native_files(shared_data: Path) -> list[Path]:
    files = sorted(p for p in (shared_data / "files").rglob("*") if p.suffix.lower() in NATIVE)
    assert len(files) > 20, "the shared data set lost its PDF, DOCX and HTML files"
    return files


def test_many_threads_parse_every_native_file_beside_crashing_and_hanging_parsers(shared_data: Path) -> None:
    files = native_files(shared_data)
    contents = {path: path.read_bytes() for path in files}
    # One thread, in this process, is how parsing worked before: the reference isolation must not change.
    expected = {
        path: PARSERS[path.suffix.lower()](data, path.stem, ParseOptions()) for path, data in contents.items()
    }
    # Long enough for the 872-page DOCX (1.6 s alone) beside five other processes on two busy cores.
    timeout = 20.0
    jobs: list[tuple[Parser, bytes, str]] = [
        (PARSERS[path.suffix.lower()], contents[path], path.stem) for path in files for _ in range(10)
    ]
    jobs += [(fault, b"", "fault") for fault in FAULTS for _ in range(3)]
    random.Random(14).shuffle(jobs)
    jobs[:0] = [(parsing_faults.hang, b"", "fault")] * 2  # first, so their time limit runs beside the rest

    with ParserPool(ParseLimits(timeout, MEMORY_MB, workers=6)) as pool, ThreadPoolExecutor(16) as threads:
        results = list(threads.map(lambda job: pool.parse(*job), jobs))

    reasons = dict(FAULTS) | {parsing_faults.hang: f"parser exceeded {timeout:g} s"}
    by_title = {path.stem: path for path in files}
    for (parser, _, title), result in zip(jobs, results, strict=True):
        if parser in reasons:
            assert result == Failed(reasons[parser])
        else:
            assert result == expected[by_title[title]], title


def test_each_failure_has_its_reason_and_the_next_file_a_fresh_process() -> None:
    with ParserPool(ParseLimits(timeout_seconds=1.0, memory_mb=MEMORY_MB, workers=1)) as pool:
        for fault, reason in FAULTS.items():
            assert pool.parse(fault, b"", "fault") == Failed(reason)
            assert _echo(pool, "after") == "after"  # one process at most: the dead one was replaced
        assert pool.parse(parsing_faults.hang, b"", "fault") == Failed("parser exceeded 1 s")
        assert _echo(pool, "after a hang") == "after a hang"


def test_a_parser_stopped_for_its_time_takes_the_programs_it_started_with_it(tmp_path: Path) -> None:
    written = tmp_path / "program.pid"
    with ParserPool(ParseLimits(timeout_seconds=1.0, memory_mb=MEMORY_MB, workers=1)) as pool:
        result = pool.parse(parsing_faults.hang_in_a_program, str(written).encode(), "fault")
    assert result == Failed("parser exceeded 1 s")
    program = int(written.read_text())

    def gone() -> bool:
        try:
            os.kill(program, 0)
        except ProcessLookupError:
            return True
        return Path(f"/proc/{program}/stat").read_text().split()[2] == "Z"  # a zombie awaiting its reaper

    eventually(gone, timeout=10)


def test_a_parser_a_process_cannot_import_by_name_is_refused() -> None:
    with ParserPool(ParseLimits(1.0, MEMORY_MB, 1)) as pool, pytest.raises(ValueError, match="module-level"):
        pool.parse(lambda data, title: Failed("never"), b"", "x")


def test_close_ends_a_parse_in_flight_at_once() -> None:
    pool = ParserPool(ParseLimits(timeout_seconds=600.0, memory_mb=MEMORY_MB, workers=2))
    assert _echo(pool, "warm") == "warm"
    outcome: list[ParseResult | Exception] = []

    def parse_hanging() -> None:
        try:
            outcome.append(pool.parse(parsing_faults.hang, b"", "fault"))
        except ParsingUnavailable as exc:
            outcome.append(exc)

    thread = threading.Thread(target=parse_hanging)
    thread.start()
    time.sleep(0.5)
    started = time.monotonic()
    pool.close()
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert time.monotonic() - started < 5
    assert len(outcome) == 1
    assert isinstance(outcome[0], ParsingUnavailable)
    with pytest.raises(ParsingUnavailable, match="closed"):
        pool.parse(parsing_faults.echo, b"late", "x")


def test_an_exit_neither_waits_for_a_hung_parser_nor_leaves_its_process_behind(tmp_path: Path) -> None:
    """A thread of a thread pool (Celery's, in `freshrag up`) stuck in a parse: the interpreter joins such
    threads at exit, so the shared pool must end the parse first."""
    mark = uuid.uuid4().hex
    script = textwrap.dedent(
        """
        import time
        from concurrent.futures import ThreadPoolExecutor
        from freshrag.parsing import shared_pool
        from tests import parsing_faults

        threads = ThreadPoolExecutor(1)
        threads.submit(shared_pool().parse, parsing_faults.hang, b"", "fault")
        time.sleep(1.0)
        print("leaving", flush=True)
        """
    )
    environment = {
        **os.environ,
        "PYTHONPATH": str(PROJECT),
        "FRESHRAG_PARSE_TIMEOUT_SECONDS": "600",
        "FRESHRAG_CONFIG": str(tmp_path / "none.toml"),
        "ISOLATION_TEST_MARK": mark,
    }
    started = time.monotonic()
    command = [sys.executable, "-c", script]
    run = subprocess.run(command, env=environment, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert "leaving" in run.stdout
    assert time.monotonic() - started < 20
    eventually(lambda: not _processes_marked(mark), timeout=10)


def _echo(pool: ParserPool, text: str) -> str:
    result = pool.parse(parsing_faults.echo, text.encode(), "echo")
    assert isinstance(result, ParsedDocument), result
    return result.sections[0].text


def _processes_marked(mark: str) -> list[int]:
    """Processes (the parser processes of the script above) whose environment holds `mark`."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                environment = (entry / "environ").read_bytes()
            except OSError:
                continue
            if f"ISOLATION_TEST_MARK={mark}".encode() in environment:
                found.append(int(entry.name))
    return found
