"""Search under load on a running `freshrag up`, as a user runs it: concurrent clients, each search mode.

The SciFact abstracts are written as Markdown files into a fresh watched folder and loaded with `freshrag
ingest` (the fastest way in: it embeds in batches, straight into the store), then `freshrag up` is started
on that folder and data dir; its start-up reconcile finds nothing to do. C clients (wrk's connections where
Debian's `wrk` is installed, which costs the shared cores almost nothing; else, or with `--client python`,
this process's threads, one connection each) then send `GET /search?q=...&k=10&mode=M` back to back for S
seconds per mode and round, with queries drawn from SciFact's queries. Latency counts answered searches
(200; wrk counts every answer); anything else is an error, by status or by exception. Requests per second
are answered searches over the phase's wall time.

Then the same hybrid load runs while a 1.5 MB text file (SciFact abstracts end to end) is moved into the
watched folder one second in; the load goes on for S seconds after the drop, its record is polled every
0.25 s, and the figures say whether it was indexed within that window (and when, if later).

    .venv/bin/python benchmarks/search_load.py [--clients 20] [--seconds 30] [--modes dense,keyword,hybrid]
    .venv/bin/python benchmarks/search_load.py --docs 300 --clients 4 --seconds 5     # a quick check

Rounds: every mode is loaded `--rounds` times (3 by default); requests/s, p50 and p99 are each the median
over the rounds (the lower of the middle two for an even count), max the worst, and `rounds` in the JSON
keeps every round. With `--compare-with <another checkout>`, both builds are ingested
into data dirs of their own and are up at once; each round loads every mode of one build, then of the other,
in the reverse order every other round, so a drift of the machine's speed between minutes falls on both.
The report gives this build's p50, p99 and requests/s over the other's (medians over medians). A build whose
/search has no `mode` parameter (before hybrid search) is loaded in its only mode, dense, with `mode` left
out, once a round; each of this build's modes is then set against that. The other build runs on this
interpreter with PYTHONPATH at its checkout, or on `--compare-python` (its own venv):

    git worktree add /tmp/old 9d70567
    .venv/bin/python benchmarks/search_load.py --compare-with /tmp/old
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import wrk_load
from common import MODEL_CACHE, PROJECT, RESULTS, SHARED_DATA, distribution, start_up, stop
from rich.console import Console
from rich.table import Table

from freshrag.documents import file_doc_id, root_key

SCIFACT = SHARED_DATA / "ir" / "scifact"
BIG_FILE = "scifact-abstracts.txt"
BIG_FILE_BYTES = 1_500_000
DROP_AFTER = 1.0  # seconds of load before the big file is dropped
REQUEST_TIMEOUT = 30.0
INGEST_TIMEOUT = 3600
INDEXED_TIMEOUT = 600  # for the corpus to show as indexed, and for the big file after its window
console = Console(stderr=True)


@dataclass(frozen=True)
class Build:
    """A checkout of freshrag and the interpreter that runs it."""

    name: str
    path: Path
    python: str

    def env(self) -> dict[str, str]:
        return {"PYTHONPATH": str(self.path)}

    @property
    def cli(self) -> str:
        """The command line's module: `freshrag_cli`, or `freshrag.cli` in a checkout older than its move."""
        return "freshrag_cli" if (self.path / "freshrag_cli").is_dir() else "freshrag.cli"


@dataclass
class Load:
    """What the clients of one phase saw."""

    latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)
    measured: dict[str, Any] | None = None  # wrk's figures, where wrk generated the load

    def figures(self) -> dict[str, Any]:
        if self.measured is not None:
            return self.measured
        answered = len(self.latencies)
        spread = distribution(self.latencies) if answered else {"n": 0}
        return {
            "requests": answered + sum(self.errors.values()),
            "requests_per_s": round(answered / self.seconds, 1) if self.seconds else 0.0,
            "p50_ms": round(spread["p50"] * 1000, 1) if answered else None,
            "p99_ms": round(spread["p99"] * 1000, 1) if answered else None,
            "max_ms": round(spread["max"] * 1000, 1) if answered else None,
            "errors": sum(self.errors.values()),
            "errors_by_kind": dict(self.errors),
        }


def scifact_rows(limit: int) -> list[dict[str, str]]:
    rows = []
    with (SCIFACT / "corpus.jsonl").open() as lines:
        for line, _ in zip(lines, range(limit), strict=False):
            rows.append(json.loads(line))
    return rows


def write_corpus(inbox: Path, limit: int) -> int:
    """The first `limit` abstracts as `<id>.md` files (title as heading), as throughput.py writes them."""
    rows = scifact_rows(limit)
    for row in rows:
        (inbox / f"{row['_id']}.md").write_text(f"# {row['title']}\n\n{row['text']}\n")
    return len(rows)


def big_text() -> str:
    """Abstracts end to end, cut at a paragraph once the text passes BIG_FILE_BYTES."""
    parts: list[str] = []
    size = 0
    for row in scifact_rows(10**9):
        part = f"{row['title']}\n\n{row['text']}\n\n"
        parts.append(part)
        size += len(part.encode())
        if size >= BIG_FILE_BYTES:
            return "".join(parts)
    raise RuntimeError(f"SciFact holds fewer than {BIG_FILE_BYTES} bytes of abstracts")


def load_queries() -> list[str]:
    with (SCIFACT / "queries.jsonl").open() as lines:
        return [json.loads(line)["text"] for line in lines]


def ingest(build: Build, inbox: Path, data_dir: Path, log: Path) -> float:
    """`freshrag ingest` of the folder into the data dir `freshrag up` will use; seconds it took."""
    environment = (
        os.environ
        | {
            "FRESHRAG_MODEL_CACHE_DIR": str(MODEL_CACHE),
            "FRESHRAG_LOG_LEVEL": "WARNING",
        }
        | build.env()
    )
    command = [build.python, "-m", build.cli, "ingest", str(inbox), "--data-dir", str(data_dir)]
    started = time.perf_counter()
    with log.open("ab") as output:
        done = subprocess.run(
            command, env=environment, cwd=build.path, stdout=output, stderr=output, timeout=INGEST_TIMEOUT,
            check=False,
        )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"{build.name}: freshrag ingest exited with {done.returncode}; see {log}")
    return time.perf_counter() - started


def imported_from(build: Build) -> str:
    """Where the build's interpreter, started as the benchmark starts it, takes `freshrag` from."""
    answer = subprocess.run(
        [build.python, "-c", "import freshrag; print(freshrag.__file__)"],
        env=os.environ | build.env(), cwd=build.path, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    location = Path(answer.stdout.strip()).resolve()
    if not location.is_relative_to(build.path):
        raise RuntimeError(f"{build.name}: freshrag is imported from {location}, not from {build.path}")
    return str(location.parent)


def search_modes(client: httpx.Client) -> bool:
    """Whether this instance's GET /search takes a `mode` (builds before hybrid search do not)."""
    schema = client.get("/openapi.json").raise_for_status().json()
    parameters = schema["paths"]["/search"]["get"].get("parameters", [])
    return any(parameter["name"] == "mode" for parameter in parameters)


def wait_indexed(client: httpx.Client, documents: int) -> dict[str, Any]:
    """Wait until /status shows `documents` indexed and nothing queued; the last /status answer."""
    deadline = time.monotonic() + INDEXED_TIMEOUT
    while True:
        status: dict[str, Any] = client.get("/status").raise_for_status().json()
        if status["documents"].get("indexed", 0) >= documents and status["queue_depth"] == 0:
            return status
        if time.monotonic() > deadline:
            raise RuntimeError(f"not indexed after {INDEXED_TIMEOUT} s: {status['documents']}")
        time.sleep(0.5)


def drive(url: str, mode: str | None, queries: list[str], args: Any, until: float, load: Load) -> None:
    """`args.clients` clients searching back to back until the monotonic time `until`; results into `load`:
    wrk's connections, or this process's threads with `--client python`."""
    if args.client == "wrk":
        load.measured = wrk_load.search_load(
            url, mode, queries, args.clients, until - time.monotonic(), REQUEST_TIMEOUT
        )
        return
    clients = args.clients

    def client_loop(number: int) -> None:
        draw = random.Random(number)
        latencies: list[float] = []
        errors: Counter[str] = Counter()
        with httpx.Client(base_url=url, timeout=REQUEST_TIMEOUT, trust_env=False) as client:
            while time.monotonic() < until:
                params = {"q": draw.choice(queries), "k": "10"} | ({"mode": mode} if mode else {})
                started = time.perf_counter()
                try:
                    response = client.get("/search", params=params)
                except httpx.HTTPError as exc:
                    errors[type(exc).__name__] += 1
                    continue
                if response.status_code == 200:
                    latencies.append(time.perf_counter() - started)
                else:
                    errors[f"HTTP {response.status_code}"] += 1
        with load.lock:
            load.latencies.extend(latencies)
            load.errors.update(errors)

    started = time.monotonic()
    threads = [threading.Thread(target=client_loop, args=(n,), daemon=True) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=max(0.0, until - time.monotonic()) + REQUEST_TIMEOUT + 5)
    load.seconds = time.monotonic() - started
    if any(thread.is_alive() for thread in threads):
        load.errors["client thread still running"] += sum(thread.is_alive() for thread in threads)


def warm_up(client: httpx.Client, mode: str | None, queries: list[str]) -> None:
    """A few searches first, so that loading what a mode needs is not counted as load."""
    for query in queries[:5]:
        client.get("/search", params={"q": query, "k": "10"} | ({"mode": mode} if mode else {}))


def steady(client: httpx.Client, mode: str | None, queries: list[str], args: Any) -> dict[str, Any]:
    """One phase: `args.clients` clients on one mode for `args.seconds`."""
    warm_up(client, mode, queries)
    load = Load()
    drive(str(client.base_url), mode, queries, args, time.monotonic() + args.seconds, load)
    return load.figures()


def summary(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """One mode's rounds in one set of figures: the median of each round's rate and latencies, every request
    and error counted, the worst latency seen, and each round's figures."""
    middle = statistics.median_low
    return {
        "requests": sum(r["requests"] for r in rounds),
        "requests_per_s": middle([r["requests_per_s"] for r in rounds]),
        "p50_ms": middle([r["p50_ms"] for r in rounds if r["p50_ms"] is not None] or [None]),
        "p99_ms": middle([r["p99_ms"] for r in rounds if r["p99_ms"] is not None] or [None]),
        "max_ms": max((r["max_ms"] for r in rounds if r["max_ms"] is not None), default=None),
        "errors": sum(r["errors"] for r in rounds),
        "errors_by_kind": dict(sum((Counter(r["errors_by_kind"]) for r in rounds), Counter())),
        "rounds": rounds,
    }


def while_indexing(
    client: httpx.Client, mode: str | None, queries: list[str], inbox: Path, staging: Path, args: Any
) -> dict[str, Any]:
    """The load with the big file dropped DROP_AFTER seconds in; the load ends `seconds` after the drop."""
    warm_up(client, mode, queries)
    doc_id = file_doc_id(root_key(inbox), BIG_FILE)
    load = Load()
    started = time.monotonic()
    until = started + DROP_AFTER + args.seconds
    loader = threading.Thread(
        target=drive, args=(str(client.base_url), mode, queries, args, until, load), daemon=True
    )
    loader.start()
    time.sleep(DROP_AFTER)
    dropped = time.monotonic()
    os.replace(staging, inbox / BIG_FILE)  # one rename: the watcher never sees half a file
    record: dict[str, Any] = {}
    while time.monotonic() < dropped + args.seconds + INDEXED_TIMEOUT:
        answer = client.get(f"/documents/{doc_id}")
        if answer.status_code == 200:
            record = answer.json()
            if record["status"] not in ("pending", "processing"):
                break
        time.sleep(0.25)
    finished = time.monotonic()
    loader.join(timeout=max(0.0, until - time.monotonic()) + REQUEST_TIMEOUT + 10)
    indexed = record.get("status") == "indexed"
    return {
        "mode": mode or "dense",
        **load.figures(),
        "file_bytes": BIG_FILE_BYTES,
        "file_status": record.get("status", "not seen"),
        "file_chunks": record.get("chunk_count"),
        "indexed_within_window": indexed and finished <= until,
        "drop_to_indexed_s": round(finished - dropped, 2) if indexed else None,
    }


@dataclass
class Running:
    """A build's `freshrag up` on its own copy of the corpus, ready for load."""

    build: Build
    process: subprocess.Popen[bytes]
    client: httpx.Client
    inbox: Path
    staging: Path
    log: Path
    modes: list[str | None]
    facts: dict[str, Any]


def prepare(build: Build, args: Any, scratch: Path) -> Running:
    """Ingest the corpus into a data dir of the build's own, then start `freshrag up` on it."""
    code = imported_from(build)
    inbox, data_dir, staging = scratch / "inbox", scratch / "data", scratch / BIG_FILE
    inbox.mkdir()
    documents = write_corpus(inbox, args.docs)
    staging.write_text(big_text())
    log = scratch / "freshrag.log"
    console.log(f"{build.name}: ingesting {documents} abstracts ({code})")
    ingest_seconds = ingest(build, inbox, data_dir, log)
    console.log(f"{build.name}: ingested in {ingest_seconds:.1f} s; starting freshrag up")
    process, client = start_up(
        inbox, data_dir, python=build.python, cwd=build.path, log=log, cli=build.cli, **build.env()
    )
    running = Running(build, process, client, inbox, staging, log, [None], {})
    try:
        status = wait_indexed(client, documents)
        has_modes = search_modes(client)
    except BaseException:
        shut(running, failed=True)
        raise
    running.modes = list(args.modes) if has_modes else [None]
    console.log(f"{build.name}: {status['chunks']} chunks indexed")
    running.facts = {
        "code": code,
        "documents": documents,
        "chunks": status["chunks"],
        "ingest_seconds": round(ingest_seconds, 1),
        "mode_parameter": has_modes,
    }
    return running


def shut(running: Running, *, failed: bool = False) -> None:
    if failed:
        console.print(running.log.read_text()[-4000:], markup=False, highlight=False)
    stop(running.process)
    running.client.close()


def measure(builds: list[Build], args: Any, queries: list[str]) -> dict[str, dict[str, Any]]:
    """Every build up at once, each on its own data dir; `args.rounds` rounds, each loading every mode of
    every build in turn (the builds' order reversed every other round), so that a drift of the machine's
    speed falls on all builds alike. Then, build by build, hybrid while the big file is indexed."""
    with contextlib.ExitStack() as stack:
        running: list[Running] = []
        for build in builds:
            scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="search-load-")))
            running.append(prepare(build, args, scratch))
            stack.callback(shut, running[-1])
        try:
            rounds: dict[str, dict[str, list[dict[str, Any]]]] = {r.build.name: {} for r in running}
            for number in range(args.rounds):
                order = running if number % 2 == 0 else running[::-1]
                for slot in range(len(args.modes)):
                    for each in order:
                        if slot >= len(each.modes):
                            continue  # a build without modes is loaded once a round, in dense
                        mode = each.modes[slot]
                        figures = steady(each.client, mode, queries, args)
                        rounds[each.build.name].setdefault(mode or "dense", []).append(figures)
                        console.log(f"round {number + 1}, {each.build.name}, {mode or 'dense'}: {figures}")
            measured = {}
            for each in running:
                mode = "hybrid" if each.facts["mode_parameter"] else None
                console.log(f"{each.build.name}: {mode or 'dense'} while {BIG_FILE} is indexed")
                indexing = while_indexing(each.client, mode, queries, each.inbox, each.staging, args)
                console.log(f"  {indexing}")
                by_mode = {mode: summary(figures) for mode, figures in rounds[each.build.name].items()}
                measured[each.build.name] = each.facts | {"by_mode": by_mode, "while_indexing": indexing}
        except BaseException:
            for each in running:
                console.print(each.log.read_text()[-2000:], markup=False, highlight=False)
            raise
    return measured


def ratios(this: dict[str, Any], other: dict[str, Any]) -> dict[str, Any]:
    """This build's figures over the other's, for each of this build's modes against the other's same mode,
    or against its only mode (dense) where it has no `mode` parameter."""

    def over(mine: dict[str, Any], theirs: dict[str, Any]) -> dict[str, float | None]:
        def ratio(key: str) -> float | None:
            return round(mine[key] / theirs[key], 3) if mine[key] and theirs[key] else None

        return {"p50": ratio("p50_ms"), "p99": ratio("p99_ms"), "rps": ratio("requests_per_s")}

    return {
        "by_mode": {
            mode: {"against": against, **over(figures, other["by_mode"][against])}
            for mode, figures in this["by_mode"].items()
            for against in [mode if mode in other["by_mode"] else "dense"]
        },
        "while_indexing": {
            "this_mode": this["while_indexing"]["mode"],
            "other_mode": other["while_indexing"]["mode"],
            **over(this["while_indexing"], other["while_indexing"]),
        },
    }


def show(result: dict[str, Any]) -> None:
    out = Console(width=120)
    for name, build in result["builds"].items():
        table = Table(
            title=f"{name}: {build['documents']} documents, {build['chunks']} chunks, ingest "
            f"{build['ingest_seconds']} s, {result['clients']} clients x {result['seconds']} s, median of "
            f"{result['rounds']} rounds"
        )
        for column in ("phase", "mode", "requests", "req/s", "p50 ms", "p99 ms", "max ms", "errors"):
            table.add_column(column, justify="left" if column in ("phase", "mode") else "right")
        phases = [("steady", mode, figures) for mode, figures in build["by_mode"].items()]
        phases.append(("while indexing", build["while_indexing"]["mode"], build["while_indexing"]))
        for phase, mode, figures in phases:
            table.add_row(
                phase, mode, str(figures["requests"]), str(figures["requests_per_s"]), str(figures["p50_ms"]),
                str(figures["p99_ms"]), str(figures["max_ms"]), str(figures["errors"]),
            )  # fmt: skip
        out.print(table)
        indexing = build["while_indexing"]
        out.print(
            f"{BIG_FILE} ({indexing['file_bytes']:,} bytes): {indexing['file_status']}, "
            f"{indexing['file_chunks']} chunks; indexed within the {result['seconds']} s window: "
            f"{'yes' if indexing['indexed_within_window'] else 'no'}; drop to indexed: "
            f"{indexing['drop_to_indexed_s']} s"
        )
    if "this_over_other" in result:
        table = Table(
            title=f"this over other ({result['other']})",
            caption="p50, p99 below 1: this build answers sooner; req/s above 1: it answers more",
        )
        for column in ("phase", "this mode", "other mode", "p50", "p99", "req/s"):
            table.add_column(column)
        compared = result["this_over_other"]
        for mode, figures in compared["by_mode"].items():
            table.add_row(
                "steady", mode, figures["against"], *(str(figures[key]) for key in ("p50", "p99", "rps"))
            )
        during = compared["while_indexing"]
        table.add_row(
            "while indexing", during["this_mode"], during["other_mode"],
            *(str(during[key]) for key in ("p50", "p99", "rps")),
        )  # fmt: skip
        out.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--modes", default="dense,keyword,hybrid", help="comma-separated search modes")
    parser.add_argument("--docs", type=int, default=5183, help="the first N SciFact abstracts (all: 5183)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON instead of tables")
    parser.add_argument(
        "--client",
        choices=("wrk", "python"),
        default="wrk" if wrk_load.available() else "python",
        help="the load generator: wrk (Debian's `wrk`; the default where installed) or Python threads",
    )
    parser.add_argument("--compare-with", type=Path, help="another checkout of freshrag, run the same way")
    parser.add_argument("--compare-python", help="the other checkout's interpreter (default: this one)")
    parser.add_argument(
        "--rounds", type=int, default=3, help="rounds of every mode (each build's figures: the median round)"
    )
    args = parser.parse_args()
    args.modes = [mode.strip() for mode in args.modes.split(",") if mode.strip()]
    unknown = set(args.modes) - {"dense", "keyword", "hybrid"}
    if unknown or not args.modes:
        parser.error(f"--modes: a comma-separated choice of dense, keyword, hybrid (not {args.modes})")
    if args.clients < 1 or args.seconds <= 0 or args.docs < 1 or args.rounds < 1:
        parser.error("--clients, --seconds, --docs and --rounds must be positive")
    queries = load_queries()
    this = Build("this", PROJECT, sys.executable)
    builds = [this]
    if args.compare_with is not None:
        other = Build("other", args.compare_with.resolve(), args.compare_python or sys.executable)
        builds = [other, this]
    measured = measure(builds, args, queries)
    result: dict[str, Any] = {
        "what": "GET /search?k=10 on freshrag up, concurrent clients back to back, SciFact queries; then "
        f"the hybrid load while a {BIG_FILE_BYTES:,}-byte text file is indexed",
        "clients": args.clients,
        "client": args.client,
        "seconds": args.seconds,
        "rounds": args.rounds,
        "builds": measured,
    }
    if args.compare_with is not None:
        result["other"] = str(args.compare_with.resolve())
        result["this_over_other"] = ratios(measured["this"], measured["other"])
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = "search_load_compare" if args.compare_with is not None else "search_load"
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2))
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        show(result)


if __name__ == "__main__":
    main()
