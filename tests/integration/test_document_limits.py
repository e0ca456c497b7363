"""What one document may cost: a chunk count and embedding seconds, each failing only that document."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from freshrag.documents import DocStatus
from freshrag.embedding import SentenceTransformerEmbedder
from freshrag.pipeline import EMBED_SLICE
from freshrag.runtime import build_runtime
from freshrag.settings import Settings
from freshrag.sources import WatchedFolder


def paragraphs(count: int, topic: str) -> str:
    return "\n\n".join(
        f"## {topic} {n}\n\nObservation {n} of the {topic} survey: a colony counted near the estuary."
        for n in range(count)
    )


def test_a_document_over_the_limits_fails_alone(
    make_settings: Callable[..., Settings], embedder: SentenceTransformerEmbedder, tmp_path: Path
) -> None:
    folder = tmp_path / "inbox"
    folder.mkdir()
    (folder / "slow.md").write_text(paragraphs(3 * EMBED_SLICE, "heron"))
    (folder / "huge.md").write_text(paragraphs(600, "egret"))
    (folder / "small.md").write_text("# Kingfishers\n\nKingfishers dive for minnows in clear streams.")
    settings = make_settings(max_document_seconds=0.001, max_chunks_per_document=500)
    runtime = build_runtime(settings, embedder=embedder)
    try:
        watched = WatchedFolder.of(folder)
        changes = [watched.change_for(name) for name in ("slow.md", "huge.md", "small.md")]
        outcomes = {o.doc_id: o for o in runtime.indexer.apply_many(changes)}
        slow, huge, small = (runtime.store.get_record(change.doc_id) for change in changes)
        assert slow is not None
        assert huge is not None
        assert small is not None
        assert slow.status is DocStatus.FAILED
        assert "FRESHRAG_MAX_DOCUMENT_SECONDS" in (slow.reason or "")
        assert huge.status is DocStatus.FAILED
        assert "FRESHRAG_MAX_CHUNKS_PER_DOCUMENT" in (huge.reason or "")
        assert small.status is DocStatus.INDEXED
        assert outcomes[changes[2].doc_id].embedded == 1
        assert runtime.store.chunk_ids_of(changes[0].doc_id) == set()
        hits = runtime.search.search("kingfishers dive for minnows", 3).results
        assert [hit.uri for hit in hits][:1] == [changes[2].uri]
        assert all("heron" not in hit.text for hit in hits)
    finally:
        runtime.close()
