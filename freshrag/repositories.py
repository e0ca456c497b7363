"""Git repositories as a document source: a push pulls the branch into a local clone under the data dir,
and the files the push added, changed or removed become changes of `git:` documents.

The clone is brought to the remote's state and the changed paths come from `git diff` between the commit
indexed before and the one now checked out, so a missed or repeated push still ends in the right index.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from freshrag.documents import Change, Op, SourceKind
from freshrag.sources import IgnoreRules, WatchedFolder

GIT_TIMEOUT_SECONDS = 300


def redacted(text: str) -> str:
    """`text` without the credentials of any URL in it (`https://user:token@host` -> `https://***@host`)."""
    return re.sub(r"://[^/@\s]+@", "://***@", text)


class GitError(RuntimeError):
    """A git command failed; the message has its stderr."""


@dataclass(frozen=True)
class Pulled:
    folder: WatchedFolder
    previous: str | None
    current: str
    changes: list[Change]


def clone_folder(data_dir: Path, repository: str) -> Path:
    """Where the clone of `repository` ('owner/name') lives."""
    return data_dir / "repositories" / repository.replace("/", "__")


def pull(clone_url: str, ref: str, path: Path, rules: IgnoreRules) -> Pulled:
    """Bring the clone at `path` to `ref` of `clone_url` (cloning it first if needed) and return the
    changes of the files that differ from what was checked out before."""
    previous: str | None = None
    if (path / ".git").is_dir():
        previous = _git(path, "rev-parse", "HEAD").strip()
        _git(path, "fetch", "--quiet", "--no-tags", "--", clone_url, ref)
        _git(path, "reset", "--quiet", "--hard", "FETCH_HEAD")
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        branch = ref.removeprefix("refs/heads/")
        _git(path.parent, "clone", "--quiet", "--no-tags", "--single-branch", "--branch", branch, "--",
             clone_url, str(path))  # fmt: skip
    current = _git(path, "rev-parse", "HEAD").strip()
    folder = WatchedFolder.of(path, SourceKind.GIT)
    changes = []
    for op, relative in _changed(path, previous, current):
        if not rules.ignores(relative):
            changes.append(folder.change_for(relative, op))
    return Pulled(folder, previous, current, changes)


def _changed(path: Path, previous: str | None, current: str) -> list[tuple[Op, str]]:
    if previous is None:
        return [(Op.UPSERT, name) for name in _git(path, "ls-files", "-z").split("\0") if name]
    if previous == current:
        return []
    listing = _git(path, "diff", "--name-status", "--no-renames", "-z", previous, current).split("\0")
    pairs = zip(listing[::2], listing[1::2], strict=False)
    return [(Op.DELETE if status == "D" else Op.UPSERT, name) for status, name in pairs if name]


def _git(cwd: Path, *args: str) -> str:
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}
    try:
        done = subprocess.run(
            ["git", "-c", "core.quotepath=off", *args],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise GitError(redacted(f"git {args[0]} failed: {exc}")) from exc
    if done.returncode != 0:
        raise GitError(redacted(f"git {args[0]} failed ({done.returncode}): {done.stderr.strip()}"))
    return done.stdout
