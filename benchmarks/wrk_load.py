"""Closed-loop HTTP load from wrk (https://github.com/wg/wrk, Debian's `wrk`), for benchmarks that share the
machine with the service they load: wrk is C on epoll and spent about 1% of a core on 250 searches a
second here, where 20 Python client threads took a good part of one of the two cores the service needs.

Each connection sends `GET /search?k=10&q=<a query drawn at random>[&mode=M]` back to back; wrk reports the
latency of every answer (HdrHistogram) and the answers that were not 2xx, printed by the script's `done`
hook as one JSON line.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import urllib.parse
from pathlib import Path
from typing import Any

SCRIPT = """
local queries = {}
for line in io.lines(%(queries)s) do queries[#queries + 1] = line end
local suffix = %(suffix)s
local threads = 0
function setup(thread) threads = threads + 1; thread:set("seed", threads) end
function init(args) math.randomseed(seed) end
request = function()
  return wrk.format("GET", "/search?k=10" .. suffix .. "&q=" .. queries[math.random(#queries)])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %%d, "duration_us": %%d, "non_2xx": %%d, "connect": %%d, "read": %%d, "write": %%d, ' ..
    '"timeout": %%d, "p50_us": %%d, "p90_us": %%d, "p99_us": %%d, "max_us": %%d}\\n',
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""


def available() -> bool:
    return shutil.which("wrk") is not None


def search_load(
    url: str, mode: str | None, queries: list[str], clients: int, seconds: float, timeout: float
) -> dict[str, Any]:
    """`clients` connections searching back to back for `seconds`; the figures search_load.py reports."""
    with tempfile.TemporaryDirectory(prefix="wrk-") as scratch:
        listing = Path(scratch) / "queries.txt"
        listing.write_text("".join(urllib.parse.quote(query, safe="") + "\n" for query in queries))
        script = Path(scratch) / "search.lua"
        suffix = f"&mode={urllib.parse.quote(mode)}" if mode else ""
        script.write_text(SCRIPT % {"queries": json.dumps(str(listing)), "suffix": json.dumps(suffix)})
        threads = min(2, clients)
        command = [
            "wrk", f"-t{threads}", f"-c{clients}", f"-d{max(1, round(seconds))}s",
            f"--timeout={round(timeout)}s", "-s", str(script), url,
        ]  # fmt: skip
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=seconds + timeout + 60, check=True
        )
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    errors = {
        kind: summary[key]
        for kind, key in (
            ("HTTP not 2xx", "non_2xx"), ("connect", "connect"), ("read", "read"), ("write", "write"),
            ("timeout", "timeout"),
        )
        if summary[key]
    }  # fmt: skip
    answered = summary["requests"] - summary["non_2xx"]
    duration = summary["duration_us"] / 1e6
    return {
        "requests": summary["requests"],
        "requests_per_s": round(answered / duration, 1) if duration else 0.0,
        "p50_ms": round(summary["p50_us"] / 1000, 1),
        "p99_ms": round(summary["p99_us"] / 1000, 1),
        "max_ms": round(summary["max_us"] / 1000, 1),
        "errors": sum(errors.values()),
        "errors_by_kind": errors,
    }
