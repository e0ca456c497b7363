"""Printing answers for people (rich) and for programs (--json)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from rich.console import Console
from rich.table import Table


def when(timestamp: float | None) -> str:
    if timestamp is None:
        return "-"
    return dt.datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M:%S")


def print_search(console: Console, answer: dict[str, Any]) -> None:
    results = answer["results"]
    if not results:
        console.print(f"[yellow]no results[/] for {answer['query']!r}")
        return
    for rank, hit in enumerate(results, 1):
        heading = " > ".join(hit.get("heading") or [])
        console.print(
            f"[bold]{rank}.[/] [cyan]{hit['score']:.3f}[/] [bold]{hit['title'] or hit['doc_id']}[/]"
            + (f" — {heading}" if heading else ""),
            soft_wrap=True,
        )
        console.print(
            f"   [dim]{hit['uri']} · version {hit['version']} · indexed {when(hit['indexed_at'])}[/]",
            soft_wrap=True,
        )
        snippet = " ".join(hit["text"].split())
        console.print(f"   {snippet[:300]}{'…' if len(snippet) > 300 else ''}", highlight=False)
    console.print(
        f"[dim]{len(results)} results in {answer['took_ms']} ms, model {answer['model_version']}[/]"
    )


def print_status(console: Console, status: dict[str, Any]) -> None:
    table = Table(title=f"freshrag ({status['mode']}, model {status['model_version']})", show_header=False)
    for state, count in status["documents"].items():
        table.add_row(f"documents {state}", str(count))
    table.add_row("chunks", str(status["chunks"]))
    table.add_row("queue depth", str(status["queue_depth"]))
    if status["dead_letters"]:
        table.add_row("dead letters", f"[red]{status['dead_letters']}[/] (freshrag replay-dead-letters)")
    table.add_row("oldest pending change", f"{status['oldest_pending_change_age_seconds']} s")
    table.add_row("watched folders", "\n".join(status["watched_folders"]) or "-")
    console.print(table)
    if status["problems"]:
        problems = Table(title="not indexed", show_lines=False)
        problems.add_column("status")
        problems.add_column("document")
        problems.add_column("reason")
        for doc in status["problems"]:
            problems.add_row(doc["status"], doc["uri"], doc["reason"] or "")
        console.print(problems)
