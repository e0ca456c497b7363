"""The indexing pipeline against the real model and local Qdrant: incremental, idempotent, gap-free."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from freshrag.documents import Change, DocStatus, DocumentRecord, Op, SourceKind
from freshrag.pipeline import EMBED_SLICE, IndexingInterrupted
from freshrag.runtime import Runtime
from freshrag.sources import WatchedFolder

SECTIONS = 50


def long_markdown(edited: int | None = None, sections: int = SECTIONS) -> str:
    parts = ["# Field guide"]
    for number in range(sections):
        body = f"Species {number} nests near rivers and feeds on insects during the summer months."
        if number == edited:
            body += " Recent surveys found it far north of its usual range."
        parts.append(f"## Bird {number}\n\n{body}")
    return "\n\n".join(parts)


def change_for(runtime: Runtime, path: Path) -> Change:
    return WatchedFolder.of(path.parent).change_for(path.name)


def test_editing_one_paragraph_re_embeds_only_its_chunk(runtime: Runtime, tmp_path: Path) -> None:
    doc = tmp_path / "guide.md"
    doc.write_text(long_markdown())
    first = runtime.indexer.apply(change_for(runtime, doc))
    assert first.outcome == "indexed"
    assert first.embedded == SECTIONS

    doc.write_text(long_markdown(edited=17))
    second = runtime.indexer.apply(change_for(runtime, doc))
    assert (second.embedded, second.reused) == (1, SECTIONS - 1)
    assert runtime.store.count_chunks() == SECTIONS
    hit = runtime.search.search("sighted far north of its range", 1).results[0]
    assert "Bird 17" in hit.heading
    assert hit.version == 2


def test_applying_a_change_twice_changes_nothing(runtime: Runtime, tmp_path: Path) -> None:
    doc = tmp_path / "a.txt"
    doc.write_text("Honeybees communicate with a waggle dance.")
    change = change_for(runtime, doc)
    runtime.indexer.apply(change)
    before = runtime.store.get_record(change.doc_id)
    again = runtime.indexer.apply(change)
    after = runtime.store.get_record(change.doc_id)
    assert again.outcome == "unchanged"
    assert again.embedded == 0
    assert before is not None
    assert after is not None
    assert (after.version, after.chunk_ids, after.content_hash) == (
        before.version,
        before.chunk_ids,
        before.content_hash,
    )
    assert runtime.store.count_chunks() == 1


def test_delete_leaves_no_chunk_and_a_deleted_record(runtime: Runtime, tmp_path: Path) -> None:
    doc = tmp_path / "b.md"
    doc.write_text("# Orchids\n\nSome orchids mimic insects.\n\n## Care\n\nWater sparingly.")
    change = change_for(runtime, doc)
    runtime.indexer.apply(change)
    doc.unlink()
    outcome = runtime.indexer.apply(
        Change(change.doc_id, Op.DELETE, SourceKind.FILE, change.uri, root=change.root)
    )
    assert outcome.outcome == "deleted"
    assert runtime.store.chunk_ids_of(change.doc_id) == set()
    record = runtime.store.get_record(change.doc_id)
    assert record is not None
    assert record.status is DocStatus.DELETED
    assert record.chunk_count == 0


def test_a_document_stays_searchable_while_it_is_re_indexed(runtime: Runtime, tmp_path: Path) -> None:
    doc = tmp_path / "c.md"
    doc.write_text(long_markdown())
    change = change_for(runtime, doc)
    runtime.indexer.apply(change)
    misses: list[int] = []
    done = threading.Event()

    def search_continuously() -> None:
        while not done.is_set():
            results = runtime.search.search("species nests near rivers", 5).results
            if not any(r.doc_id == change.doc_id for r in results):
                misses.append(1)

    searcher = threading.Thread(target=search_continuously)
    searcher.start()
    try:
        for round_number in range(8):
            doc.write_text(
                long_markdown(edited=round_number).replace("insects", f"insects (rev {round_number})")
            )
            runtime.indexer.apply(change)
    finally:
        done.set()
        searcher.join()
    assert misses == []


def test_an_older_source_version_never_overwrites_a_newer_one(runtime: Runtime, tmp_path: Path) -> None:
    doc = tmp_path / "d.txt"
    doc.write_text("Version three of the release notes.")
    base = change_for(runtime, doc)
    newer = Change(base.doc_id, Op.UPSERT, SourceKind.FILE, base.uri, version=3, root=base.root)
    older = Change(base.doc_id, Op.UPSERT, SourceKind.FILE, base.uri, version=2, root=base.root)
    assert runtime.indexer.apply(newer).outcome == "indexed"
    doc.write_text("Version two of the release notes.")
    assert runtime.indexer.apply(older).outcome == "stale"
    assert runtime.search.search("release notes", 1).results[0].text == "Version three of the release notes."


def test_oversized_files_and_link_loops_are_recorded_with_a_reason(runtime: Runtime, tmp_path: Path) -> None:
    big = tmp_path / "big.txt"
    big.write_text("x" * (runtime.settings.max_file_bytes + 1))
    loop = tmp_path / "loop.txt"
    loop.symlink_to(loop)
    outcomes = {p.name: runtime.indexer.apply(change_for(runtime, p)) for p in (big, loop)}
    assert outcomes["big.txt"].outcome == "skipped"
    assert "over the limit" in (outcomes["big.txt"].reason or "")
    assert outcomes["loop.txt"].outcome == "skipped"
    assert "link loop" in (outcomes["loop.txt"].reason or "")


def test_a_crash_between_writes_leaves_no_orphan_after_the_next_run(
    runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = tmp_path / "e.md"
    doc.write_text(long_markdown())
    change = change_for(runtime, doc)
    runtime.indexer.apply(change)
    doc.write_text(long_markdown(edited=3))
    real_put = runtime.store.put_record
    calls: list[int] = []

    def crash_on_final_write(record: DocumentRecord) -> None:
        calls.append(1)
        if len(calls) == 2:  # the write-ahead went through, the chunks were written: now the process dies
            raise RuntimeError("killed")
        real_put(record)

    monkeypatch.setattr(runtime.store, "put_record", crash_on_final_write)
    with pytest.raises(RuntimeError, match="killed"):
        runtime.indexer.apply(change)
    monkeypatch.setattr(runtime.store, "put_record", real_put)

    doc.write_text(long_markdown(edited=9))  # the next change comes along
    runtime.indexer.apply(change)
    record = runtime.store.get_record(change.doc_id)
    assert record is not None
    assert runtime.store.chunk_ids_of(change.doc_id) == set(record.chunk_ids)
    assert runtime.store.count_chunks() == SECTIONS


def test_a_new_document_whose_first_run_crashed_is_indexed_by_the_next(
    runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = tmp_path / "f.md"
    doc.write_text(long_markdown())
    change = change_for(runtime, doc)
    real_put = runtime.store.put_record
    calls: list[int] = []

    def crash_after_write_ahead(record: DocumentRecord) -> None:
        calls.append(1)
        real_put(record)
        if len(calls) == 1:
            raise RuntimeError("killed")

    monkeypatch.setattr(runtime.store, "put_record", crash_after_write_ahead)
    with pytest.raises(RuntimeError, match="killed"):
        runtime.indexer.apply(change)
    monkeypatch.setattr(runtime.store, "put_record", real_put)
    pending = runtime.store.get_record(change.doc_id)
    assert pending is not None
    assert pending.status is DocStatus.PENDING

    again = runtime.indexer.apply(change)  # same content: must not be taken as already done
    assert again.outcome == "indexed"
    record = runtime.store.get_record(change.doc_id)
    assert record is not None
    assert record.chunk_count == SECTIONS
    assert runtime.store.chunk_ids_of(change.doc_id) == set(record.chunk_ids)


def test_a_re_index_stopped_while_it_embeds_keeps_the_old_version_and_the_next_run_converges(
    runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = tmp_path / "g.md"
    doc.write_text(long_markdown())
    change = change_for(runtime, doc)
    runtime.indexer.apply(change)
    before = runtime.store.get_record(change.doc_id)
    assert before is not None
    doc.write_text(long_markdown(sections=4 * SECTIONS))  # 150 new chunks: more than one slice
    embedder = runtime.embedder
    embed = embedder.embed
    slices: list[int] = []

    def embed_then_stop(texts: list[str]) -> np.ndarray:
        slices.append(len(texts))
        if len(slices) == 1:
            runtime.stopping.set()  # SIGTERM arrives while the first slice is embedded
        return embed(texts)

    monkeypatch.setattr(embedder, "embed", embed_then_stop)
    with pytest.raises(IndexingInterrupted):
        runtime.indexer.apply(change)
    assert slices == [EMBED_SLICE]  # gave up after one slice, not after all of them
    assert runtime.store.get_record(change.doc_id) == before  # nothing written: the old version stays whole
    assert runtime.store.chunk_ids_of(change.doc_id) == set(before.chunk_ids)
    assert runtime.search.search("Species 7 nests near rivers", 1).results

    runtime.stopping.clear()  # the next start
    again = runtime.indexer.apply(change)
    assert again.outcome == "indexed"
    record = runtime.store.get_record(change.doc_id)
    assert record is not None
    assert record.chunk_count == 4 * SECTIONS
    assert runtime.store.chunk_ids_of(change.doc_id) == set(record.chunk_ids)
