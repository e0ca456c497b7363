"""Reading a CMS document's current state for the worker: from the entry journal, or, when the payload did
not carry the text, from the CMS itself through the configured `fetch_url`."""

from __future__ import annotations

import logging
from dataclasses import replace
from functools import partial
from typing import Any

import httpx

from freshrag.settings import Settings
from freshrag.sources import FileState, Gone, Loaded, LoadResult, Unreadable
from freshrag.state.entries import EntryJournal, StoredDoc
from freshrag.webhooks.fields import dotted, entry_text
from freshrag.webhooks.platforms import PLATFORMS

log = logging.getLogger(__name__)


class EntryLoader:
    """Loads CMS documents by id. A fetch that fails for a transient reason raises, so the change is retried
    with backoff; a 404 or 410 from the CMS means the entry is gone."""

    def __init__(self, journal: EntryJournal, settings: Settings) -> None:
        self._journal = journal
        self._settings = settings

    def load(self, doc_id: str) -> LoadResult:
        """The document's journalled state, with the acknowledgement that marks that state applied (a later
        state, stored meanwhile, stays to be applied by its own task)."""
        stored = self._journal.get(doc_id)
        if stored is None:
            return Gone()
        return replace(
            self._load(stored), ack=partial(self._journal.mark_applied, doc_id, stored.received_at)
        )

    def _load(self, stored: StoredDoc) -> LoadResult:
        if not stored.present:
            return Gone()
        title, body = stored.title, stored.body
        if stored.fetch_url:
            fetched = self._fetch(stored)
            if not isinstance(fetched, tuple):
                return fetched
            title, body = fetched
        data = body.encode()
        state = FileState(size=len(data), mtime_ns=stored.version)
        return Loaded(data, state, name=f"{stored.doc_id}.md", title=title or None, version=stored.version)

    def _fetch(self, stored: StoredDoc) -> tuple[str, str] | LoadResult:
        source = self._settings.webhook_source(stored.source)
        url = stored.fetch_url or ""
        response = httpx.get(
            url,
            headers=source.fetch_headers,
            timeout=self._settings.webhook_fetch_timeout_seconds,
            follow_redirects=True,
        )
        if response.status_code in (404, 410):
            log.info("%s: %s answered %d, the entry is gone", stored.doc_id, url, response.status_code)
            return Gone()
        response.raise_for_status()  # anything else may pass: retried, then a dead letter with the reason
        try:
            payload: Any = response.json()
        except ValueError:
            return Unreadable(f"{url} did not answer JSON", skipped=False)
        fields = dotted(payload, source.mapping(stored.content_type).fetch_path)
        if not isinstance(fields, dict):
            path = source.mapping(stored.content_type).fetch_path or "the top level"
            return Unreadable(f"{url}: no entry object at {path} of the answer (fetch_path)", skipped=False)
        if not PLATFORMS[stored.source].published(fields, source):
            log.info(
                "%s: %s is not published (%s rules), the entry is gone", stored.doc_id, url, stored.source
            )
            return Gone()
        return entry_text(fields, source.mapping(stored.content_type))
