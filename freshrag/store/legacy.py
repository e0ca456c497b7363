"""Moving a data dir written by freshrag before the Qdrant Edge store (qdrant-client's local mode under
`<data dir>/qdrant`) into the embedded store, once, at start-up.

Stored vectors are copied, never re-embedded; keyword vectors are computed from each chunk's stored text.
Records follow, then the live pointer takes the old alias's collection. Every step is idempotent (the same
point ids, the same record keys), and each collection copied is noted in `migration.json`, so a move cut short
resumes where it stopped. The old folder is only read: it stays as it was, for a downgrade.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from freshrag.documents import DocumentRecord
from freshrag.store.edge import EdgeStore
from freshrag.store.interfaces import CHUNKS_ALIAS, ChunkPoint, StoreLockedError
from freshrag.store.keywords import chunk_terms

log = logging.getLogger(__name__)

_DOCUMENTS = "freshrag_documents"
_PAGE = 512
_STATE = "migration.json"


def migrate_legacy(legacy: Path, store: EdgeStore) -> bool:
    """Move the local-mode store at `legacy` into `store` unless done before; True when a move ran."""
    state_file = store.folder / _STATE
    state = _read_state(state_file)
    if state.get("done") or not (legacy / "collection").is_dir():
        return False
    from qdrant_client import QdrantClient

    try:
        client = QdrantClient(path=str(legacy))
    except RuntimeError as exc:
        raise StoreLockedError(f"{legacy} is in use by another process ({exc})") from None
    log.info(
        "moving the store at %s into %s (once; vectors are copied, not re-embedded)", legacy, store.folder
    )
    try:
        names = [c.name for c in client.get_collections().collections]
        chunk_names = sorted(n for n in names if n.startswith(f"{CHUNKS_ALIAS}__"))
        copied: list[str] = list(state.get("collections", []))
        with _progress() as bar:
            for name in chunk_names:
                if name in copied:
                    continue
                _copy_collection(client, name, store, bar)
                copied.append(name)
                _write_state(state_file, {"collections": copied})
            if _DOCUMENTS in names:
                _copy_records(client, store, bar)
        live = next(
            (a.collection_name for a in client.get_aliases().aliases if a.alias_name == CHUNKS_ALIAS), None
        )
        if live is not None and live in store.chunk_collections():
            store.swap_alias(live)
    finally:
        client.close()
    _write_state(state_file, {"collections": copied, "done": True, "from": str(legacy)})
    log.info("moved %d collections from %s; the old folder is left as it was", len(copied), legacy)
    return True


def _copy_collection(client: Any, name: str, store: EdgeStore, bar: Progress) -> None:
    total = client.count(name, exact=True).count
    info = client.get_collection(name)
    vectors = info.config.params.vectors
    dimension = vectors.size if hasattr(vectors, "size") else next(iter(vectors.values())).size
    store.create_chunk_collection(name, int(dimension))
    task = bar.add_task(f"moving {name}", total=total)
    offset = None
    while True:
        page, offset = client.scroll(name, limit=_PAGE, offset=offset, with_payload=True, with_vectors=True)
        points = []
        for record in page:
            vector = record.vector if isinstance(record.vector, list) else None
            if vector is None and isinstance(record.vector, dict) and record.vector:
                vector = next(iter(record.vector.values()))
            if vector is None:
                continue
            payload = dict(record.payload or {})
            sparse = chunk_terms(
                payload.get("title", ""), payload.get("heading", []), payload.get("text", "")
            )
            points.append(ChunkPoint(str(record.id), np.asarray(vector, np.float32), payload, sparse))
        store.upsert_chunks(points, name)
        bar.advance(task, len(page))
        if offset is None:
            return


def _copy_records(client: Any, store: EdgeStore, bar: Progress) -> None:
    task = bar.add_task("moving document records", total=client.count(_DOCUMENTS, exact=True).count)
    offset = None
    while True:
        page, offset = client.scroll(_DOCUMENTS, limit=_PAGE, offset=offset, with_payload=True)
        store.put_records([DocumentRecord.from_payload(dict(p.payload or {})) for p in page])
        bar.advance(task, len(page))
        if offset is None:
            return


def _progress() -> Progress:
    # On stderr: the move runs inside whatever command opened the store first, and `freshrag search --json`
    # must still print nothing but JSON on stdout.
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=False,
    )


def _read_state(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_state(path: Path, state: dict[str, Any]) -> None:
    staged = path.with_suffix(".new")
    staged.write_text(json.dumps(state), encoding="utf-8")
    staged.replace(path)
