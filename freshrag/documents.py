"""What a document is to freshrag: its identity, the change events about it, and its record in the store."""

from __future__ import annotations

import hashlib
import time
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any


class DocStatus(StrEnum):
    INDEXED = "indexed"
    PENDING = "pending"
    FAILED = "failed"
    SKIPPED = "skipped"
    DELETED = "deleted"


class Op(StrEnum):
    UPSERT = "upsert"
    DELETE = "delete"


class SourceKind(StrEnum):
    FILE = "file"  # a file in a watched folder
    GIT = "git"  # a file in a local clone of a repository, pulled on push
    CMS = "cms"  # an entry a CMS announced by webhook, kept in the entry journal
    CANARY = "canary"  # freshrag's own synthetic probe document, never shown in search results


class Origin(StrEnum):
    """Why a change was made. Live: someone edited a document, and waits to find it searchable (the freshness
    SLO). Backfill: a bulk load (the start-up or a scheduled reconcile, `freshrag ingest`, a burst of files
    copied in at once), reported with its progress and measured apart from live edits."""

    LIVE = "live"
    BACKFILL = "backfill"


@dataclass(frozen=True)
class Change:
    """One detected change of one document. The worker re-reads the document's current state (the file,
    or the CMS entry in the journal), so `op` is a hint and delivery order does not matter; `version` is
    the source's own version where it has one (monotonic)."""

    doc_id: str
    op: Op
    source_kind: SourceKind
    uri: str
    detected_at: float = field(default_factory=time.time)
    version: int | None = None
    root: str | None = None
    origin: Origin = Origin.LIVE
    # The claim of the document that the task of this change runs under (see `freshrag.state.pending`): set
    # by the queue as it sends the change, kept by its retries.
    claim: str | None = None

    def to_message(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_message(cls, data: dict[str, Any]) -> Change:
        return cls(
            doc_id=str(data["doc_id"]),
            op=Op(data["op"]),
            source_kind=SourceKind(data["source_kind"]),
            uri=str(data["uri"]),
            detected_at=float(data["detected_at"]),
            version=None if data.get("version") is None else int(data["version"]),
            root=data.get("root"),
            origin=Origin(data.get("origin", Origin.LIVE.value)),  # messages queued by an older version
            claim=data.get("claim"),
        )


@dataclass
class DocumentRecord:
    """The store's record of one document: what was indexed, as which version, and why not when it was not."""

    doc_id: str
    status: DocStatus
    source_kind: SourceKind
    uri: str
    root: str | None = None
    title: str = ""
    version: int = 0
    source_version: int | None = None
    content_hash: str | None = None
    chunk_ids: list[str] = field(default_factory=list)
    # Ids being written right now (write-ahead): after a crash, the next run deletes any it does not keep.
    pending_chunk_ids: list[str] = field(default_factory=list)
    indexed_at: float | None = None
    updated_at: float = field(default_factory=time.time)
    reason: str | None = None
    size_bytes: int | None = None
    mtime_ns: int | None = None
    # What read the content ("pdf: pypdfium2 + Tesseract OCR"), how many pages OCR read, and what a reader
    # should know (pages OCR left unread, attachments not read).
    parser: str | None = None
    ocr_pages: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def chunk_count(self) -> int:
        return len(self.chunk_ids)

    def to_payload(self) -> dict[str, Any]:
        data = asdict(self)
        data["status"] = self.status.value
        data["source_kind"] = self.source_kind.value
        return data

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> DocumentRecord:
        values = dict(data)
        values["status"] = DocStatus(values["status"])
        values["source_kind"] = SourceKind(values["source_kind"])
        return cls(**values)

    def to_public(self) -> dict[str, Any]:
        """The shape `GET /documents/{doc_id}` answers with."""
        data = self.to_payload()
        data["chunk_count"] = self.chunk_count
        del data["chunk_ids"], data["pending_chunk_ids"]
        return data


def root_key(folder: Path) -> str:
    """A stable, readable key for a watched folder: its name plus a short hash of its absolute path, so two
    folders with the same name never share document ids."""
    absolute = folder.resolve()
    digest = hashlib.sha1(str(absolute).encode(), usedforsecurity=False).hexdigest()[:8]
    return f"{absolute.name or 'root'}-{digest}"


def file_doc_id(root: str, relative_path: str, kind: SourceKind = SourceKind.FILE) -> str:
    """The document id of a file: `file:<root key>/<path relative to the watched folder>` (`git:` for a
    file of a repository clone)."""
    return f"{kind.value}:{root}/{relative_path}"


def source_kind_of(doc_id: str) -> SourceKind:
    """The kind of source a document id names: files, repository files and the canary have ids prefixed by
    their kind (see `file_doc_id`); every other id is a CMS entry's (`<platform>:<type>:<entry>`)."""
    prefix = doc_id.partition(":")[0]
    by_prefix = {kind.value: kind for kind in (SourceKind.FILE, SourceKind.GIT, SourceKind.CANARY)}
    return by_prefix.get(prefix, SourceKind.CMS)


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
