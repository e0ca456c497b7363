"""Printing answers for people (rich) and for programs (--json)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from rich.console import Console
from rich.table import Table

from freshrag.backfill import describe


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
        f"[dim]{len(results)} results in {answer['took_ms']} ms, {answer.get('mode', 'dense')} search, "
        f"model {answer['model_version']}[/]"
    )


def seconds(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.1f} s"


def print_status(console: Console, status: dict[str, Any]) -> None:
    table = Table(title=f"freshrag ({status['mode']}, model {status['model_version']})", show_header=False)
    for state, count in status["documents"].items():
        table.add_row(f"documents {state}", str(count))
    table.add_row("chunks", str(status["chunks"]))
    table.add_row("queue depth", str(status["queue_depth"]))
    if status["dead_letters"]:
        table.add_row("dead letters", f"[red]{status['dead_letters']}[/] (freshrag replay-dead-letters)")
    table.add_row("oldest pending change", f"{status['oldest_pending_change_age_seconds']} s")
    table.add_row("workers alive", str(status.get("workers_alive", "-")))
    table.add_row("watched folders", "\n".join(status["watched_folders"]) or "-")
    _health_rows(table, status)
    console.print(table)
    if status.get("problems_by_reason"):
        kinds = ", ".join(f"{kind}: {count}" for kind, count in status["problems_by_reason"].items())
        console.print(f"not indexed, by reason: {kinds}")
    if status["problems"]:
        problems = Table(title="not indexed", show_lines=False)
        problems.add_column("status")
        problems.add_column("document")
        problems.add_column("reason")
        for doc in status["problems"]:
            problems.add_row(doc["status"], doc["uri"], doc["reason"] or "")
        console.print(problems)
    if status.get("knowledge_gaps"):
        gaps = Table(title="knowledge gaps (recent queries with a low best score)")
        gaps.add_column("query")
        gaps.add_column("best score", justify="right")
        gaps.add_column("times", justify="right")
        for gap in status["knowledge_gaps"]:
            score = "-" if gap["top_score"] is None else f"{gap['top_score']:.3f}"
            gaps.add_row(gap["query"], score, str(gap["count"]))
        console.print(gaps)


def _health_rows(table: Table, status: dict[str, Any]) -> None:
    fresh = status.get("freshness") or {}
    window = f"{fresh.get('window_seconds', 0) / 60:g} min"
    if fresh.get("changes"):
        share = f"{fresh['within_slo']:.1%} within {fresh['slo_seconds']:g} s"
        table.add_row(
            "freshness",
            f"p50 {seconds(fresh['p50_seconds'])}, p99 {seconds(fresh['p99_seconds'])} "
            f"({fresh['changes']} live changes in the last {window}; {share})",
        )
    elif fresh:
        table.add_row("freshness", f"no live changes in the last {window}")
    backfill = describe(status.get("backfill"))
    if backfill:
        table.add_row("backfill", backfill.removeprefix("backfill: "))
    canary = (status.get("canary") or {}).get("last")
    if canary:
        colour = "green" if canary["outcome"] == "found" else "red"
        detail = seconds(canary["latency_seconds"]) if canary["outcome"] == "found" else canary["reason"]
        table.add_row("canary", f"[{colour}]{canary['outcome']}[/] {detail} at {when(canary['at'])}")
    for kind, measured in (status.get("drift") or {}).items():
        if measured:
            colour = "red" if measured["over"] else "green"
            table.add_row(
                f"{kind} drift",
                f"[{colour}]{measured['value']:.4f}[/] (threshold {measured['threshold']:.4f})",
            )
    quality = status.get("quality")
    if quality:
        figures = ", ".join(
            f"{name} {quality[name]:.4f} (baseline {quality['baseline'][name]:.4f})"
            for name in ("ndcg_at_10", "recall_at_10", "mrr_at_10")
        )
        table.add_row(f"golden set {quality['eval_set']}", figures)
    search = status.get("search")
    if search:
        scores = ", ".join(f"{label} {value:.4f}" for label, value in sorted(search["scores"].items()))
        table.add_row(
            "search mode", f"{search['label']} ({search['chosen_by']})" + (f"; {scores}" if scores else "")
        )
        for move in search["history"][-3:]:
            table.add_row(
                "", f"moved from {move['from'] or 'the default'} to {move['to']} at {when(move['at'])}"
            )
    answers = status.get("answers")
    if answers and answers["counted"]:
        outcomes = ", ".join(
            f"{count} {name.replace('_', ' ')}" for name, count in sorted(answers["outcomes"].items())
        )
        table.add_row("answers", f"of the last {answers['counted']}: {outcomes}")


def print_answer(console: Console, answer: dict[str, Any]) -> None:
    """The answer, its sources by citation number, and how it was made."""
    console.print(answer["answer"], highlight=False, markup=False)
    if answer["citations"]:
        console.print()
    for cited in answer["citations"]:
        console.print(
            f"[bold][{cited['n']}][/] {cited['title'] or cited['doc_id']} [dim]{cited['uri']} · "
            f"version {cited['version']} · indexed {when(cited['indexed_at'])}[/]",
            soft_wrap=True,
            highlight=False,
        )
    grounded = "" if answer["grounded"] else ", [yellow]not grounded in the documents[/]"
    console.print(
        f"[dim]{answer['outcome'].replace('_', ' ')} by route {answer['route']}, model "
        f"{answer['model'] or 'none called'}; retrieval {answer['retrieval_ms']} ms, generation "
        f"{answer['generation_ms']} ms[/]{grounded}"
    )


def print_advice(console: Console, advice: dict[str, Any]) -> None:
    """The recommendation, then each finding with the figure behind it and where it points."""
    sure = "" if advice["confident"] else " [yellow](too little data to be sure)[/]"
    console.print(f"[bold]{advice['recommendation'].upper()}[/]{sure}")
    console.print(advice["summary"], highlight=False)
    console.print()
    for finding in advice["findings"]:
        points = finding["points_to"] or ("too little data" if finding["thin"] else "no direction")
        console.print(f"[bold]{finding['question']}[/] [cyan]→ {points}[/]", highlight=False)
        console.print(f"   {finding['figure']}", highlight=False, markup=False)
    for note in advice["notes"]:
        console.print(f"[dim]{note}[/]", highlight=False)
