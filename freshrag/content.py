"""Where the worker reads a document's current content, by the kind of source it came from."""

from __future__ import annotations

from pathlib import Path

from freshrag.documents import Change, SourceKind
from freshrag.sources import LoadResult, load_file
from freshrag.webhooks.loading import EntryLoader


class ContentLoader:
    """Files (watched folders and repository clones) from disk; CMS entries from the entry journal."""

    def __init__(self, entries: EntryLoader, max_file_bytes: int) -> None:
        self._entries = entries
        self._max_file_bytes = max_file_bytes

    def __call__(self, change: Change) -> LoadResult:
        if change.source_kind is SourceKind.CMS:
            return self._entries.load(change.doc_id)
        return load_file(Path(change.uri), self._max_file_bytes)
