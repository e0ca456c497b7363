"""A folder watched by the real watcher, indexed by the real worker: what a user sees in search."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from freshrag.documents import DocStatus
from tests.conftest import eventually
from tests.integration.conftest import System


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def test_drop_edit_rename_and_delete_are_reflected_in_search(start_system: Callable[..., System]) -> None:
    system = start_system()
    note = system.inbox / "volcano.md"
    write(note, "# Volcanoes\n\nMagma rises through the crust and erupts as lava.\n")
    hits = eventually(lambda: system.runtime.search.search("lava eruption", 3).results)
    assert hits[0].uri == str(note)
    assert hits[0].version == 1
    assert hits[0].title == "Volcanoes"

    write(
        note,
        "# Volcanoes\n\nMagma rises through the crust and erupts as lava.\n\n"
        "## Ash\n\nAsh clouds ground planes.\n",
    )
    eventually(
        lambda: any(
            "Ash clouds" in h.text for h in system.runtime.search.search("aircraft grounded", 5).results
        )
    )
    # The new chunk is searchable a moment before the record naming version 2 is written.
    eventually(lambda: {h.version for h in system.runtime.search.search("lava", 5).results} == {2})

    renamed = system.inbox / "geology" / "volcano.md"
    renamed.parent.mkdir()
    note.rename(renamed)
    eventually(lambda: system.searchable_docs("lava") == {str(renamed)})
    assert system.status_of("volcano.md") is DocStatus.DELETED

    renamed.unlink()
    eventually(lambda: system.searchable_docs("lava") == set())
    assert system.runtime.store.count_chunks() == 0


def test_moving_a_whole_directory_moves_its_documents(
    start_system: Callable[..., System], tmp_path: Path
) -> None:
    system = start_system()
    for name in ("a", "b", "c"):
        write(system.inbox / "team" / f"{name}.txt", f"Document {name} about the quarterly budget review.")
    eventually(lambda: len(system.searchable_docs("budget")) == 3)

    (system.inbox / "team").rename(system.inbox / "archive")
    expected = {str(system.inbox / "archive" / f"{n}.txt") for n in ("a", "b", "c")}
    eventually(lambda: system.searchable_docs("budget") == expected)

    outside = tmp_path / "elsewhere"
    (system.inbox / "archive").rename(outside)  # moved out of the watched tree: gone
    eventually(lambda: system.searchable_docs("budget") == set())

    shutil.move(str(outside), str(system.inbox / "back"))  # moved in from outside: found
    eventually(lambda: len(system.searchable_docs("budget")) == 3)


def test_temporary_hidden_and_swap_files_are_never_indexed(start_system: Callable[..., System]) -> None:
    system = start_system()
    for name in (".hidden.md", "draft.md~", ".draft.md.swp", "report.tmp", "~$report.docx", ".git/notes.md"):
        write(system.inbox / name, "Penguins huddle together against the Antarctic winter.")
    # An editor's atomic save: write a temporary file, then rename it over the real name.
    write(system.inbox / "penguins.md.tmp", "Penguins huddle together against the Antarctic winter.")
    os.replace(system.inbox / "penguins.md.tmp", system.inbox / "penguins.md")
    eventually(lambda: system.searchable_docs("penguins") == {str(system.inbox / "penguins.md")})
    time.sleep(0.5)
    assert system.searchable_docs("penguins") == {str(system.inbox / "penguins.md")}
    assert len(list(system.runtime.store.records())) == 1


def test_changes_made_while_stopped_are_applied_at_start(start_system: Callable[..., System]) -> None:
    system = start_system()
    write(system.inbox / "keep.md", "Tides follow the moon.")
    write(system.inbox / "edit.md", "Glaciers carve valleys slowly.")
    write(system.inbox / "remove.md", "Deserts receive little rain.")
    eventually(lambda: len(system.searchable_docs("nature", 10)) == 3)
    system.stop()

    write(system.inbox / "edit.md", "Glaciers carve valleys slowly. Icebergs calve from their fronts.")
    (system.inbox / "remove.md").unlink()
    write(system.inbox / "new.md", "Coral reefs shelter many fish.")

    again = start_system()
    inbox = again.inbox
    eventually(
        lambda: (
            again.searchable_docs("nature", 10) == {str(inbox / n) for n in ("keep.md", "edit.md", "new.md")}
        )
    )
    eventually(lambda: any("Icebergs" in h.text for h in again.runtime.search.search("icebergs", 3).results))


def test_a_burst_of_saves_ends_with_the_final_content(start_system: Callable[..., System]) -> None:
    system = start_system()
    target = system.inbox / "counter.txt"
    for number in range(40):
        write(target, f"The counter now reads {number} after many saves.")
        time.sleep(0.005)
    eventually(
        lambda: (
            system.settled()
            and any("reads 39" in h.text for h in system.runtime.search.search("counter", 5).results)
        )
    )
    texts = [h.text for h in system.runtime.search.search("counter reads", 10).results]
    assert texts == ["The counter now reads 39 after many saves."]


def test_an_inotify_queue_overflow_is_survived_by_reconciling(start_system: Callable[..., System]) -> None:
    limit = Path("/proc/sys/fs/inotify/max_queued_events")
    original = limit.read_text()
    limit.write_text("16")  # applies to inotify instances created from now on: only this watcher's
    try:
        system = start_system()
    finally:
        limit.write_text(original)
    for number in range(150):
        write(system.inbox / f"bulk-{number:03}.txt", f"Shipment {number} left the warehouse on time.")
    expected = {str(system.inbox / f"bulk-{number:03}.txt") for number in range(150)}
    eventually(
        lambda: {r.uri for r in system.runtime.store.records(status=DocStatus.INDEXED)} == expected,
        timeout=120,
    )


def test_a_file_name_that_is_not_utf8_does_not_stop_the_others(start_system: Callable[..., System]) -> None:
    system = start_system()
    (system.inbox / "caf\xe9-menu.txt".encode("latin-1").decode("utf-8", "surrogateescape")).write_text(
        "Espresso."
    )
    os.mkdir(os.path.join(os.fsencode(system.inbox), b"\xff-folder"))
    write(system.inbox / "good.txt", "Flat whites need microfoam.")
    eventually(lambda: system.searchable_docs("coffee") == {str(system.inbox / "good.txt")})
