"""The HTML status page served at `GET /`: the `GET /status` answer, laid out for an operator."""

from __future__ import annotations

import datetime as dt
import functools
from pathlib import Path
from typing import Any

import jinja2

BACKLOG_BAD_SECONDS = 300.0
CANARY_STALE_INTERVALS = 5  # a canary run can take up to its timeout, so only this many missed runs is news
# As FreshragRetrievalQualityBelowBaseline: a drop larger than this is worth a look.
QUALITY_MARGIN = 0.05
QUALITY_DELTA_NOISE = 0.005  # metric moves smaller than this against the baseline are not coloured
STATE_ORDER = ("idle", "ok", "warn", "bad")


def render_status_page(status: dict[str, Any]) -> str:
    """The status dict of `collect_status` as one self-contained HTML page (no scripts, no external
    resources). Every value is HTML-escaped: file names, queries and reasons come from user content."""
    tiles = tile_states(status) | section_states(status)
    overall = max(tiles.values(), key=STATE_ORDER.index)
    template = _environment().get_template("status.html")
    return template.render(status=status, tiles=tiles, overall=overall)


def tile_states(status: dict[str, Any]) -> dict[str, str]:
    """Each headline tile as `ok`, `warn`, `bad`, or `idle` (nothing measured yet, or turned off)."""
    freshness = status["freshness"]
    slo = freshness["slo_seconds"]
    p99 = freshness["p99_seconds"]
    oldest = status["oldest_pending_change_age_seconds"]
    return {
        "freshness": "idle" if p99 is None else "bad" if p99 > slo else "warn" if p99 > slo / 2 else "ok",
        "backlog": "bad" if oldest > BACKLOG_BAD_SECONDS else "warn" if oldest > slo else "ok",
        "canary": _canary_state(status["canary"], status["now"]),
        "workers": "bad" if status["workers_alive"] == 0 else "ok",
        "dead_letters": "warn" if status["dead_letters"] > 0 else "ok",
    }


def section_states(status: dict[str, Any]) -> dict[str, str]:
    """Quality and drift count towards the overall state too: `warn` when a retrieval metric fell more than
    the alert's margin below its baseline, or a drift is over its threshold."""
    quality = status["quality"]
    dropped = quality is not None and any(
        quality[name] < quality["baseline"][name] - QUALITY_MARGIN for name in quality["baseline"]
    )
    drifted = any(
        measured and measured["value"] > measured["threshold"] for measured in status["drift"].values()
    )
    return {
        "quality": "idle" if quality is None else "warn" if dropped else "ok",
        "drift": "warn" if drifted else "ok",
    }


def _canary_state(canary: dict[str, Any], now: float) -> str:
    last = canary["last"]
    if not canary["enabled"] or last is None:
        return "idle"
    if last["outcome"] != "found":
        return "bad"
    if now - last["at"] > CANARY_STALE_INTERVALS * canary["interval_seconds"]:
        return "warn"
    return "ok"


def duration(seconds: float | None) -> str:
    """`0.12` as "120 ms", `3.4` as "3.4 s", `300` as "5 min"."""
    if seconds is None:
        return "–"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.0f} d"


def ago(timestamp: float | None, now: float) -> str:
    """How long before `now` (when the status was collected) `timestamp` was, as "12 s ago"."""
    if timestamp is None:
        return "never"
    elapsed = now - timestamp
    if elapsed < 1:  # also a timestamp slightly ahead of `now`, from another host's clock
        return "just now"
    if elapsed < 120:
        return f"{elapsed:.0f} s ago"
    return f"{duration(elapsed)} ago"


def utc(timestamp: float | None) -> str:
    """The absolute time, for hovering over a relative one."""
    if timestamp is None:
        return ""
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def score(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def signed(value: float) -> str:
    return f"{value:+.3f}"


def trend(delta: float) -> str:
    """The CSS class of a move against the baseline: `up`, `down`, or `flat` when within noise."""
    if abs(delta) < QUALITY_DELTA_NOISE:
        return "flat"
    return "up" if delta > 0 else "down"


def percent(share: float | None) -> str:
    if share is None:
        return "–"
    return f"{share * 100:.1f}".removesuffix(".0") + " %"


@functools.cache
def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,  # a key renamed in collect_status fails loudly, not as a blank tile
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(
        duration=duration, ago=ago, utc=utc, score=score, signed=signed, trend=trend, percent=percent
    )
    return environment
