"""What a watched folder may hold besides plain files, on the real file system: symbolic links leading out of
it, special files, and a folder replaced by a file of the same name. Nothing outside the folder or
special is read, each is recorded with its reason, and a path that holds no file any more is deleted."""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Callable
from pathlib import Path

import pytest

from freshrag.documents import DocStatus, DocumentRecord, SourceKind
from freshrag.reconcile import folder_changes
from freshrag.runtime import Runtime
from freshrag.sources import Gone, IgnoreRules, Loaded, Unreadable, WatchedFolder, load_file
from tests.conftest import eventually
from tests.integration.conftest import System

MAX = 1_000_000


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    folder = tmp_path / "inbox"
    folder.mkdir()
    return folder


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    secret = tmp_path / "elsewhere" / "secret.txt"
    secret.parent.mkdir()
    secret.write_text("The vault combination is kept outside the watched folder.")
    return secret


def skipped_reason(result: object) -> str:
    assert isinstance(result, Unreadable), result
    assert result.skipped
    assert result.state is not None  # so that reconcile does not retry it until it changes
    return result.reason


def test_a_link_leading_outside_is_not_read_unless_allowed(inbox: Path, outside: Path) -> None:
    link = inbox / "borrowed.txt"
    link.symlink_to(outside)
    reason = skipped_reason(load_file(link, MAX, folder=inbox))
    assert "borrowed.txt" in reason
    assert "outside the watched folder" in reason
    assert "FRESHRAG_FOLLOW_OUTSIDE_LINKS" in reason
    allowed = load_file(link, MAX, folder=inbox, follow_outside_links=True)
    assert isinstance(allowed, Loaded)


def test_links_that_stay_inside_are_read(inbox: Path) -> None:
    (inbox / "notes").mkdir()
    (inbox / "notes" / "real.txt").write_text("Inside.")
    (inbox / "alias.txt").symlink_to(inbox / "notes" / "real.txt")
    (inbox / "relative.txt").symlink_to(Path("notes") / "real.txt")
    (inbox / "through").symlink_to(inbox / "notes", target_is_directory=True)
    for name in ("alias.txt", "relative.txt", "through/real.txt"):
        loaded = load_file(inbox / name, MAX, folder=inbox)
        assert isinstance(loaded, Loaded), (name, loaded)
        assert loaded.data == b"Inside."


def test_special_files_are_never_read(inbox: Path, tmp_path: Path) -> None:
    os.mkfifo(inbox / "pipe.txt")
    listening = socket.socket(socket.AF_UNIX)
    short = Path("/tmp") / f"freshrag-{os.getpid()}-{tmp_path.name[-20:]}"  # socket paths are short
    short.mkdir()
    try:
        listening.bind(str(short / "s.sock"))
        (inbox / "socket.txt").symlink_to(short / "s.sock")
        (inbox / "null.txt").symlink_to("/dev/null")
        (inbox / "kernel.txt").symlink_to("/proc/self/status")
        (inbox / "sysfs.txt").symlink_to("/sys/kernel/mm")
        expected = {
            "pipe.txt": "named pipe",
            "socket.txt": "socket",
            "null.txt": "character device",
            "kernel.txt": "/proc",
        }
        for name, kind in expected.items():
            # Allowed outside: they are refused for what they are, not for where they are.
            reason = skipped_reason(load_file(inbox / name, MAX, folder=inbox, follow_outside_links=True))
            assert kind in reason, (name, reason)
            assert name in reason
        # A folder under /sys: not a file at all, so nothing to index.
        assert isinstance(load_file(inbox / "sysfs.txt", MAX, folder=inbox, follow_outside_links=True), Gone)
    finally:
        listening.close()
        shutil.rmtree(short)


def test_a_path_that_holds_no_file_any_more_is_gone(inbox: Path) -> None:
    (inbox / "notes.txt").write_text("A file where a folder was.")
    (inbox / "folder.txt").mkdir()
    assert isinstance(load_file(inbox / "notes.txt" / "b.txt", MAX, folder=inbox), Gone)  # Not a directory
    assert isinstance(load_file(inbox / "folder.txt", MAX, folder=inbox), Gone)


@pytest.fixture
def system_with_links(start_system: Callable[..., System], outside: Path) -> Callable[..., System]:
    def start(**overrides: object) -> System:
        system = start_system(**overrides)
        (system.inbox / "borrowed.txt").symlink_to(outside)
        (system.inbox / "real.txt").write_text("Lighthouses warn ships away from the rocks.")
        (system.inbox / "alias.txt").symlink_to(system.inbox / "real.txt")
        os.mkfifo(system.inbox / "pipe.txt")
        return system

    return start


def test_the_watcher_records_an_outside_link_as_skipped_naming_it(
    system_with_links: Callable[..., System],
) -> None:
    system = system_with_links()
    eventually(lambda: system.status_of("borrowed.txt") is DocStatus.SKIPPED)
    eventually(lambda: system.status_of("pipe.txt") is DocStatus.SKIPPED)
    eventually(lambda: system.status_of("alias.txt") is DocStatus.INDEXED)
    record = system.runtime.store.get_record(system.runtime.folders[0].change_for("borrowed.txt").doc_id)
    assert record is not None
    assert "borrowed.txt" in (record.reason or "")
    assert "vault" not in " ".join(
        h.text for h in system.runtime.search.search("vault combination", 5).results
    )


def test_the_setting_lets_outside_links_be_read(system_with_links: Callable[..., System]) -> None:
    system = system_with_links(follow_outside_links=True)
    eventually(lambda: system.status_of("borrowed.txt") is DocStatus.INDEXED)
    assert system.status_of("pipe.txt") is DocStatus.SKIPPED


def test_a_folder_replaced_by_a_file_of_its_name_leaves_no_failed_record(
    start_system: Callable[..., System],
) -> None:
    system = start_system()
    (system.inbox / "notes.txt").mkdir()
    (system.inbox / "notes.txt" / "b.txt").write_text("Barnacles cling to the hull.")
    eventually(lambda: system.status_of("notes.txt/b.txt") is DocStatus.INDEXED)
    shutil.rmtree(system.inbox / "notes.txt")
    (system.inbox / "notes.txt").write_text("Barnacles were scraped off in dry dock.")
    eventually(lambda: system.status_of("notes.txt") is DocStatus.INDEXED)
    eventually(lambda: system.status_of("notes.txt/b.txt") is DocStatus.DELETED and system.settled())
    assert list(system.runtime.store.records(status=DocStatus.FAILED)) == []


def test_reconcile_deletes_a_failed_record_whose_path_holds_no_file(runtime: Runtime, inbox: Path) -> None:
    folder = WatchedFolder.of(inbox)
    (inbox / "notes.txt").write_text("A file where a folder was.")
    stale = folder.change_for("notes.txt/b.txt")
    runtime.store.put_record(  # what an earlier build left: failed with "Not a directory"
        DocumentRecord(
            stale.doc_id,
            DocStatus.FAILED,
            SourceKind.FILE,
            stale.uri,
            root=folder.key,
            reason="cannot read file: Not a directory",
        )
    )
    for change in folder_changes(runtime.store, folder, IgnoreRules()):
        runtime.indexer.apply(change)
    record = runtime.store.get_record(stale.doc_id)
    assert record is not None
    assert record.status is DocStatus.DELETED
