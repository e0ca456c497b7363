"""The canary's document: what the canary probe (`freshrag.health.canary`) writes to the health state, and
how the worker reads it back, like any other source's current content."""

from __future__ import annotations

from freshrag.sources import FileState, Gone, Loaded, LoadResult
from freshrag.state.health import HealthState

CANARY_DOC_ID = "canary:probe"
CANARY_STATE = "canary:document"


def canary_text(nonce: str) -> str:
    return (
        f"# freshrag canary\n\nCanary probe {nonce}: a synthetic document that checks freshness end to end.\n"
    )


def load_canary(state: HealthState) -> LoadResult:
    """The canary's current content, as the worker reads it."""
    document = state.get(CANARY_STATE)
    if document is None or not document.get("present"):
        return Gone()
    data = canary_text(str(document["nonce"])).encode()
    return Loaded(
        data, FileState(size=len(data), mtime_ns=int(document["written_at"] * 1e9)), name="canary.md"
    )
