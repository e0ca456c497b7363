"""Where the worker reads a document's current content, by the kind of source it came from."""

from __future__ import annotations

from pathlib import Path

from freshrag.canary_document import load_canary
from freshrag.documents import Change, SourceKind
from freshrag.sources import LoadResult, Unreadable, load_file, watched_folder_of
from freshrag.state.health import HealthState
from freshrag.webhooks.loading import EntryLoader


class ContentLoader:
    """Files (watched folders and repository clones) from disk; CMS entries from the entry journal; the
    canary from the health state. A file is read only from within its watched folder unless
    `follow_outside_links` (FRESHRAG_FOLLOW_OUTSIDE_LINKS)."""

    def __init__(
        self,
        entries: EntryLoader,
        max_file_bytes: int,
        health: HealthState,
        *,
        follow_outside_links: bool = False,
    ) -> None:
        self._entries = entries
        self._max_file_bytes = max_file_bytes
        self._health = health
        self._follow_outside_links = follow_outside_links

    def __call__(self, change: Change) -> LoadResult:
        if change.source_kind is SourceKind.CMS:
            return self._entries.load(change.doc_id)
        if change.source_kind is SourceKind.CANARY:
            return load_canary(self._health)
        folder = watched_folder_of(change)
        if folder is None:  # an id and a uri that disagree: no way to tell where "inside" is
            return Unreadable(f"{change.uri} is not under the folder its id names: not read", skipped=True)
        return load_file(
            Path(change.uri),
            self._max_file_bytes,
            folder=folder,
            follow_outside_links=self._follow_outside_links,
        )
