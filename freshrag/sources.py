"""Watched folders as a document source: which files count, reading one, and listing a folder.

Files are read when a worker indexes them, never when the change is seen, so the index always converges
on what the folder holds now, whatever order events arrive in.
"""

from __future__ import annotations

import errno
import fnmatch
import os
import stat as kinds
from collections.abc import Callable
from dataclasses import dataclass, field
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


# What the worker calls once the state it loaded is in the index, so that its source stops offering it (a
# CMS entry's journalled state is marked applied). Sources that keep no such record hand `nothing_to_ack`.
Ack = Callable[[], None]


def nothing_to_ack() -> None:
    """The source keeps no record of what was applied (files: the folder itself is the record)."""


@dataclass(frozen=True)
class Loaded:
    """A document's current content. `name` picks the parser by its extension (default: the change's
    uri); `title` and `version` are set by sources that know them (CMS entries)."""

    data: bytes
    state: FileState
    name: str | None = None
    title: str | None = None
    version: int | None = None
    ack: Ack = field(default=nothing_to_ack, compare=False, repr=False)


@dataclass(frozen=True)
class Gone:
    """The file no longer exists (or vanished while being read): the document is deleted."""

    ack: Ack = field(default=nothing_to_ack, compare=False, repr=False)


@dataclass(frozen=True)
class Unreadable:
    """The file exists but cannot be indexed; `reason` says why, `skipped` tells skipped from failed."""

    reason: str
    skipped: bool
    state: FileState | None = None
    ack: Ack = field(default=nothing_to_ack, compare=False, repr=False)


LoadResult = Loaded | Gone | Unreadable


# Kernel interfaces dressed as files: reading them can block, never end, or expose the machine's state.
SYSTEM_TREES = (Path("/proc"), Path("/sys"))
_SPECIAL = (
    (kinds.S_ISFIFO, "a named pipe (FIFO)"),
    (kinds.S_ISSOCK, "a socket"),
    (kinds.S_ISCHR, "a character device"),
    (kinds.S_ISBLK, "a block device"),
)


def load_file(
    path: Path, max_bytes: int, *, folder: Path | None = None, follow_outside_links: bool = False
) -> LoadResult:
    """Read the file at `path` as it is now. A path that holds no file any more (deleted, a folder now, or
    under what is now a file: "Not a directory") is `Gone`. Only regular files are read: devices, FIFOs,
    sockets and anything under /proc or /sys are skipped with the reason, never opened. With `folder` (the
    watched folder of `path`), a file whose real location lies outside it (a symbolic link out) is skipped
    too, unless `follow_outside_links`."""
    try:
        stat = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        return Gone()
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return Unreadable("symbolic link loop", skipped=True, state=LOOP_STATE)
        return Unreadable(f"cannot read file: {exc.strerror}", skipped=False)
    if kinds.S_ISDIR(stat.st_mode):
        return Gone()
    state = FileState(size=stat.st_size, mtime_ns=stat.st_mtime_ns)
    real = Path(os.path.realpath(path))
    refused = _refusal(path, stat.st_mode, real, folder, follow_outside_links)
    if refused is not None:
        return Unreadable(refused, skipped=True, state=state)
    if stat.st_size > max_bytes:
        return Unreadable(
            f"file is {stat.st_size:,} bytes, over the limit of {max_bytes:,} (FRESHRAG_MAX_FILE_BYTES)",
            skipped=True,
            state=state,
        )
    return _read_regular(real, state)


def _refusal(
    path: Path, mode: int, real: Path, folder: Path | None, follow_outside_links: bool
) -> str | None:
    """Why the file at `path` (really at `real`) must not be read, or None."""
    for is_kind, kind in _SPECIAL:
        if is_kind(mode):
            return f"{path.name} is {kind}, not a regular file: never read"
    for tree in SYSTEM_TREES:
        if real.is_relative_to(tree):
            return f"{path.name} leads to {real}, under {tree}: never read"
    if folder is not None and not follow_outside_links:
        inside = Path(os.path.realpath(folder))
        if not real.is_relative_to(inside):
            return (
                f"{path.name} is a symbolic link to a file outside the watched folder {folder}: not read "
                "(FRESHRAG_FOLLOW_OUTSIDE_LINKS=true allows it)"
            )
    return None


def _read_regular(real: Path, state: FileState) -> LoadResult:
    """Read the file at its real location, the final component not followed and without blocking, so that a
    link or a FIFO put there since it was checked is refused rather than followed or waited on."""
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    try:
        descriptor = os.open(real, flags)
    except (FileNotFoundError, NotADirectoryError):
        return Gone()
    except PermissionError:
        return Unreadable("permission denied: freshrag cannot read this file", skipped=False, state=state)
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # replaced by a link since it was checked: the next run looks again
            return Unreadable("the file changed while being read", skipped=False)
        return Unreadable(f"cannot read file: {exc.strerror}", skipped=False, state=state)
    with os.fdopen(descriptor, "rb") as file:
        opened = os.fstat(file.fileno())
        if not kinds.S_ISREG(opened.st_mode):
            return Unreadable("the file changed while being read", skipped=False)
        try:
            data = file.read()
        except OSError as exc:
            return Unreadable(f"cannot read file: {exc.strerror}", skipped=False, state=state)
    return Loaded(data=data, state=state)


def watched_folder_of(change: Change) -> Path | None:
    """The folder a file change's path is relative to, from its id (`<kind>:<root key>/<relative path>`, the
    key holding no "/") and its uri (the folder joined with that path); None when the two do not agree."""
    _, _, relative = change.doc_id.partition("/")
    if not relative or not change.uri.endswith("/" + relative):
        return None
    return Path(change.uri[: len(change.uri) - len(relative)])


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
