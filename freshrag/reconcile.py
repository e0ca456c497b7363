"""Bringing the index in line with a folder: what changed while nobody was watching."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import replace

from freshrag.documents import Change, DocStatus, DocumentRecord, Op, Origin
from freshrag.sources import FileState, IgnoreRules, WatchedFolder, display_name, is_valid_name, scan_folder
from freshrag.store import Store

log = logging.getLogger(__name__)


def plan_reconcile(
    folder: WatchedFolder, files: dict[str, FileState], records: Iterable[DocumentRecord], prefix: str = ""
) -> list[Change]:
    """Changes that make the index match `files`: new or modified files (by size and mtime), files whose
    last attempt failed, and indexed documents whose file is gone. They are a backfill (`Origin.BACKFILL`):
    a reconcile catches up on a folder, nobody waits on each of its changes."""
    root_id = folder.change_for("").doc_id
    id_prefix = f"{root_id}{prefix.rstrip('/')}/" if prefix else root_id
    known: dict[str, DocumentRecord] = {}
    for candidate in records:
        if candidate.doc_id.startswith(id_prefix) and candidate.status is not DocStatus.DELETED:
            known[candidate.doc_id] = candidate
    changes: list[Change] = []
    for relative, state in sorted(files.items()):
        change = folder.change_for(relative)
        record = known.pop(change.doc_id, None)
        if (
            record is None
            or record.status is DocStatus.FAILED
            or (record.size_bytes, record.mtime_ns) != (state.size, state.mtime_ns)
        ):
            changes.append(change)
    for gone in known.values():
        relative = gone.doc_id.removeprefix(root_id)
        changes.append(folder.change_for(relative, Op.DELETE))
    return [replace(change, origin=Origin.BACKFILL) for change in changes]


def folder_changes(store: Store, folder: WatchedFolder, rules: IgnoreRules, prefix: str = "") -> list[Change]:
    """Scan `folder` (or its sub-folder `prefix`) and plan the changes the index needs."""
    files = scan_folder(folder, rules, prefix)
    for relative in [name for name in files if not is_valid_name(name)]:
        log.warning("not indexed: %s has a file name that is not valid UTF-8", display_name(relative))
        del files[relative]
    return plan_reconcile(folder, files, store.records(root=folder.key), prefix)
