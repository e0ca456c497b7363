"""Watched folders as a document source: which files count, reading one, and listing a folder.

Files are read when a worker indexes them, never when the change is seen, so the index always converges
on what the folder holds now, whatever order events arrive in.
"""

from __future__ import annotations

import errno
import fnmatch
import os
from dataclasses import dataclass
from pathlib import Path

from freshrag.documents import Change, Op, SourceKind, file_doc_id, root_key

# Editor swap and backup files, partial downloads and the temporary files of atomic saves.
DEFAULT_IGNORED = (
    "*~",
    "*.swp",
    "*.swo",
    "*.swx",
    "*.swn",
    "*.tmp",
    "*.temp",
    "*.part",
    "*.partial",
    "*.crdownload",
    "*.download",
    "*.bak",
    "*.orig",
    "#*#",
    "~$*",
    "4913",
    "*.kate-swp",
    "*___jb_tmp___",
    "*___jb_old___",
)


@dataclass(frozen=True)
class WatchedFolder:
    """A folder whose files are documents (a watched folder, or the local clone of a repository, `kind`
    GIT); `key` is part of every document id under it."""

    path: Path
    key: str
    kind: SourceKind = SourceKind.FILE

    @classmethod
    def of(cls, path: Path, kind: SourceKind = SourceKind.FILE) -> WatchedFolder:
        absolute = path.expanduser().resolve()
        return cls(path=absolute, key=root_key(absolute), kind=kind)

    def relative(self, path: Path | str) -> str | None:
        """`path` relative to this folder in POSIX form, or None when it lies outside."""
        try:
            return Path(path).relative_to(self.path).as_posix()
        except ValueError:
            return None

    def change_for(self, relative: str, op: Op = Op.UPSERT, detected_at: float | None = None) -> Change:
        kwargs = {} if detected_at is None else {"detected_at": detected_at}
        return Change(
            doc_id=file_doc_id(self.key, relative, self.kind),
            op=op,
            source_kind=self.kind,
            uri=str(self.path / relative),
            root=self.key,
            **kwargs,  # type: ignore[arg-type]
        )


class IgnoreRules:
    """Hidden files and folders, editor and download temporaries, plus the user's own patterns."""

    def __init__(self, extra: tuple[str, ...] = ()) -> None:
        self._patterns = DEFAULT_IGNORED + tuple(extra)

    def ignores(self, relative: str) -> bool:
        parts = relative.split("/")
        if any(part.startswith(".") for part in parts):
            return True
        return any(fnmatch.fnmatchcase(parts[-1], pattern) for pattern in self._patterns)


def is_valid_name(relative: str) -> bool:
    """False for names that are not valid UTF-8 (Python keeps their bytes as lone surrogates)."""
    try:
        relative.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def display_name(relative: str) -> str:
    """A printable form of any file name, with undecodable bytes shown as \\xNN."""
    return os.fsencode(relative).decode("utf-8", "backslashreplace")


@dataclass(frozen=True)
class FileState:
    size: int
    mtime_ns: int


LOOP_STATE = FileState(size=0, mtime_ns=0)


@dataclass(frozen=True)
class Loaded:
    """A document's current content. `name` picks the parser by its extension (default: the change's
    uri); `title` and `version` are set by sources that know them (CMS entries)."""

    data: bytes
    state: FileState
    name: str | None = None
    title: str | None = None
    version: int | None = None


@dataclass(frozen=True)
class Gone:
    """The file no longer exists (or vanished while being read): the document is deleted."""


@dataclass(frozen=True)
class Unreadable:
    """The file exists but cannot be indexed; `reason` says why, `skipped` tells skipped from failed."""

    reason: str
    skipped: bool
    state: FileState | None = None


LoadResult = Loaded | Gone | Unreadable


def load_file(path: Path, max_bytes: int) -> LoadResult:
    """Read the file at `path` as it is now."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        return Gone()
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return Unreadable("symbolic link loop", skipped=True, state=LOOP_STATE)
        return Unreadable(f"cannot read file: {exc.strerror}", skipped=False)
    if not path.is_file():
        return Gone()
    state = FileState(size=stat.st_size, mtime_ns=stat.st_mtime_ns)
    if stat.st_size > max_bytes:
        return Unreadable(
            f"file is {stat.st_size:,} bytes, over the limit of {max_bytes:,} (FRESHRAG_MAX_FILE_BYTES)",
            skipped=True,
            state=state,
        )
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return Gone()
    except PermissionError:
        return Unreadable("permission denied: freshrag cannot read this file", skipped=False, state=state)
    except OSError as exc:
        return Unreadable(f"cannot read file: {exc.strerror}", skipped=False, state=state)
    return Loaded(data=data, state=state)


def scan_folder(folder: WatchedFolder, rules: IgnoreRules, prefix: str = "") -> dict[str, FileState]:
    """Every indexable file under `folder` (or under its sub-folder `prefix`), by relative path. Symbolic
    links to files are followed; links to folders are not, so link loops cannot trap the scan."""
    start = folder.path / prefix if prefix else folder.path
    found: dict[str, FileState] = {}
    for directory, subdirs, files in os.walk(start, followlinks=False):
        base = folder.relative(directory) or ""
        base = "" if base == "." else base
        subdirs[:] = [d for d in subdirs if not d.startswith(".")]
        for name in files:
            relative = f"{base}/{name}" if base else name
            if rules.ignores(relative):
                continue
            try:
                stat = Path(directory, name).stat()
            except OSError as exc:
                if exc.errno == errno.ELOOP:
                    found[relative] = LOOP_STATE  # recorded as skipped, with the reason
                continue  # vanished or a dangling link: nothing to index
            found[relative] = FileState(size=stat.st_size, mtime_ns=stat.st_mtime_ns)
    return found
