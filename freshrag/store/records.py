"""Document records of the embedded store: one SQLite row per document, indexed by status and folder.

A record is small and read by key, by status or by folder; SQLite answers those in microseconds, survives a
kill -9 (WAL journal, every write committed) and needs no vectors. The row keeps the record's JSON whole, so a
field added to `DocumentRecord` needs no migration.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from freshrag.documents import DocStatus, DocumentRecord
from freshrag.state.sqlite_file import SqliteFile
from freshrag.store.interfaces import StoreCorruptError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    doc_id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    root TEXT,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS records_status ON records (status);
CREATE INDEX IF NOT EXISTS records_root ON records (root);
"""
_PAGE = 1000
_LOOKUP = 500  # SQLite allows at most 999 bound parameters in older builds


class RecordTable:
    """Document records in one SQLite file (`freshrag.state.sqlite_file`: WAL, one connection per process,
    reopened after a fork). Thread-safe."""

    def __init__(self, path: Path) -> None:
        """Open (or create) the table at `path`; raises `StoreCorruptError` naming the file when it is not a
        readable SQLite database, before writing anything to it."""
        try:
            self._file = SqliteFile(path, synchronous="NORMAL", schema=_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise StoreCorruptError(f"{path}: not a freshrag record table ({exc})") from None

    def get(self, doc_id: str) -> DocumentRecord | None:
        with self._file.connection() as db:
            row = db.execute("SELECT body FROM records WHERE doc_id = ?", (doc_id,)).fetchone()
        return _decode(row[0]) if row else None

    def get_many(self, doc_ids: list[str]) -> dict[str, DocumentRecord]:
        unique = list(dict.fromkeys(doc_ids))
        found: dict[str, DocumentRecord] = {}
        for start in range(0, len(unique), _LOOKUP):
            part = unique[start : start + _LOOKUP]
            marks = ",".join("?" * len(part))
            with self._file.connection() as db:
                query = f"SELECT body FROM records WHERE doc_id IN ({marks})"  # noqa: S608 - placeholders only
                rows = db.execute(query, part).fetchall()
            found.update((record.doc_id, record) for record in map(_decode, (row[0] for row in rows)))
        return found

    def put(self, record: DocumentRecord) -> None:
        self.put_many([record])

    def put_many(self, records: list[DocumentRecord]) -> None:
        rows = [(r.doc_id, r.status.value, r.root, json.dumps(r.to_payload())) for r in records]
        with self._file.transaction() as db:
            db.executemany(
                "INSERT INTO records (doc_id, status, root, body) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (doc_id) DO UPDATE SET status = excluded.status, root = excluded.root, "
                "body = excluded.body",
                rows,
            )

    def select(self, *, status: DocStatus | None = None, root: str | None = None) -> Iterator[DocumentRecord]:
        """Records matching both conditions, in pages (a caller may write records while it iterates)."""
        clauses, values = [], []
        if status is not None:
            clauses.append("status = ?")
            values.append(status.value)
        if root is not None:
            clauses.append("root = ?")
            values.append(root)
        where = " AND ".join(["doc_id > ?", *clauses])
        after = ""
        while True:
            with self._file.connection() as db:
                rows = db.execute(
                    f"SELECT doc_id, body FROM records WHERE {where} ORDER BY doc_id LIMIT {_PAGE}",  # noqa: S608 - fixed clauses
                    [after, *values],
                ).fetchall()
            yield from (_decode(body) for _, body in rows)
            if len(rows) < _PAGE:
                return
            after = rows[-1][0]

    def counts(self) -> dict[DocStatus, int]:
        with self._file.connection() as db:
            rows = dict(db.execute("SELECT status, COUNT(*) FROM records GROUP BY status").fetchall())
        return {status: int(rows.get(status.value, 0)) for status in DocStatus}

    def close(self) -> None:
        self._file.close()


def _decode(body: str) -> DocumentRecord:
    return DocumentRecord.from_payload(json.loads(body))
