"""Where the worker reads a document's current content, by the kind of source it came from."""

from __future__ import annotations

from pathlib import Path

from freshrag.documents import Change, SourceKind
from freshrag.health.canary import load_canary
from freshrag.health.state import HealthState
from freshrag.sources import LoadResult, load_file
from freshrag.webhooks.loading import EntryLoader


class ContentLoader:
    """Files (watched folders and repository clones) from disk; CMS entries from the entry journal; the
    canary from the health state."""

    def __init__(self, entries: EntryLoader, max_file_bytes: int, health: HealthState) -> None:
        self._entries = entries
        self._max_file_bytes = max_file_bytes
        self._health = health

    def __call__(self, change: Change) -> LoadResult:
        if change.source_kind is SourceKind.CMS:
            return self._entries.load(change.doc_id)
        if change.source_kind is SourceKind.CANARY:
            return load_canary(self._health)
        return load_file(Path(change.uri), self._max_file_bytes)
