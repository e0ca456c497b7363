"""The status summary shown by `GET /status`, `freshrag status` and the status page at `/`."""

from __future__ import annotations

import time
from typing import Any, Protocol

from freshrag.activity import CHANGES_SHOWN, freshness, knowledge_gaps
from freshrag.backfill import BackfillProgress
from freshrag.document_status import DocumentStatus
from freshrag.documents import DocStatus
from freshrag.health import drift
from freshrag.health.canary import CANARY_RESULT
from freshrag.health.checks import current, drift_key
from freshrag.health.collector import ALIVE_SECONDS, GAP_QUERIES, CollectorServices
from freshrag.health.quality import QUALITY_RESULT
from freshrag.health.retrieval_choice import search_status
from freshrag.sources import WatchedFolder
from freshrag.state.health import ANSWERS, CHANGES, QUERIES

PROBLEMS_SHOWN = 50
ANSWERS_SHOWN = 20
ANSWERS_COUNTED = 1000
# Freshness percentiles are taken over at most this many of the latest applied changes (the live ones of the
# recent window, see `freshness`).
FRESHNESS_WINDOW = 1000


class StatusServices(CollectorServices, Protocol):
    """What the status summary reads: what a metrics scrape reads, and the watched folders."""

    @property
    def folders(self) -> list[WatchedFolder]: ...


def collect_status(services: StatusServices, *, show_queries: bool = True) -> dict[str, Any]:
    """Documents by status, chunks, backlog, the documents not indexed with their reasons (all of them
    counted by kind of reason in `problems_by_reason`), and the health picture: freshness of recent live
    changes, the progress of the latest backfill, the canary, drift, retrieval quality and knowledge gaps.
    Without `show_queries` (a caller without the admin token) the gaps, which are users' queries, are left
    out and only counted, in `knowledge_gaps_hidden`."""
    pending = services.queue.pending
    problems = DocumentStatus(services.store, services.dead_letters, pending).problems(PROBLEMS_SHOWN)
    settings, health = services.settings, services.health
    now = time.time()
    changes = health.tail(CHANGES, FRESHNESS_WINDOW)
    return {
        "now": now,
        "mode": "embedded" if settings.embedded else "distributed",
        "model_version": services.embedder.model_version,
        "documents": {state.value: count for state, count in services.store.count_records().items()}
        | {DocStatus.PENDING.value: pending.depth()},
        "chunks": services.store.count_chunks(),
        "dead_letters": problems.dead_letters,
        "queue_depth": pending.depth(),
        "oldest_pending_change_age_seconds": round(pending.oldest_age(), 3),
        "watched_folders": [str(folder.path) for folder in services.folders],
        "workers_alive": len(health.alive(now - ALIVE_SECONDS)),
        "problems": [record.to_public() for record in problems.shown[:PROBLEMS_SHOWN]],
        "problems_by_reason": dict(problems.by_reason.most_common()),
        "freshness": freshness(changes, now),
        "backfill": BackfillProgress(health).summary(),
        "recent_changes": [entry for entry in changes if entry.get("source_kind") != "canary"][
            :CHANGES_SHOWN
        ],
        "canary": {
            "enabled": settings.canary_interval_seconds > 0,
            "interval_seconds": settings.canary_interval_seconds,
            "last": health.get(CANARY_RESULT),
        },
        "drift": {
            kind: current(health.get(drift_key(kind)), services.embedder.model_version)
            for kind in drift.KINDS
        },
        "quality": current(health.get(QUALITY_RESULT), services.embedder.model_version),
        "search": search_status(settings, health, services.search.live_retrieval()),
        "answers": answers_summary(health.tail(ANSWERS, ANSWERS_COUNTED), show_queries),
    } | _gaps_shown(gaps(services), show_queries)


def answers_summary(entries: list[dict[str, Any]], show_queries: bool) -> dict[str, Any]:
    """The latest answers (newest first) and the outcomes of the recent ones, counted. Questions are users'
    queries: without `show_queries` they are left out."""
    outcomes: dict[str, int] = {}
    for entry in entries:
        outcomes[entry["outcome"]] = outcomes.get(entry["outcome"], 0) + 1
    recent = [
        entry if show_queries else {key: value for key, value in entry.items() if key != "question"}
        for entry in entries[:ANSWERS_SHOWN]
    ]
    return {"recent": recent, "outcomes": outcomes, "counted": len(entries)}


def _gaps_shown(found: list[dict[str, Any]], show_queries: bool) -> dict[str, Any]:
    if show_queries:
        return {"knowledge_gaps": found, "knowledge_gaps_hidden": 0}
    return {"knowledge_gaps": [], "knowledge_gaps_hidden": len(found)}


def gaps(services: StatusServices) -> list[dict[str, Any]]:
    """Recent user queries the index answers badly: best score under FRESHRAG_GAP_SCORE, most asked first."""
    return knowledge_gaps(services.health.tail(QUERIES, GAP_QUERIES), services.settings.gap_score)
