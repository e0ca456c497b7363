"""The status summary shown by `GET /status` and `freshrag status`."""

from __future__ import annotations

from typing import Any

from freshrag.documents import DocStatus
from freshrag.runtime import Runtime

PROBLEMS_SHOWN = 50


def collect_status(runtime: Runtime) -> dict[str, Any]:
    """Documents by status, chunk count, backlog, and the documents not indexed with their reasons."""
    letters = runtime.dead_letters.all()
    problems = [
        letter.as_record(runtime.store.get_record(letter.change.doc_id)).to_public() for letter in letters
    ]
    for state in (DocStatus.FAILED, DocStatus.SKIPPED):
        for record in runtime.store.records(status=state):
            if len(problems) >= PROBLEMS_SHOWN:
                break
            if runtime.dead_letters.get(record.doc_id) is None:
                problems.append(record.to_public())
    pending = runtime.queue.pending
    return {
        "mode": "embedded" if runtime.settings.embedded else "distributed",
        "model_version": runtime.embedder.model_version,
        "documents": {state.value: count for state, count in runtime.store.count_records().items()}
        | {DocStatus.PENDING.value: pending.depth()},
        "chunks": runtime.store.count_chunks(),
        "dead_letters": len(letters),
        "queue_depth": pending.depth(),
        "oldest_pending_change_age_seconds": round(pending.oldest_age(), 3),
        "watched_folders": [str(folder.path) for folder in runtime.folders],
        "problems": problems[:PROBLEMS_SHOWN],
    }
