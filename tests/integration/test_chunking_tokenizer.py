"""The chunker cuts the same chunks whether the Rust splitter counts with the model's tokenizer (the GIL let
go, as `freshrag up` runs it) or calls back into Python to count."""

from __future__ import annotations

import json
from pathlib import Path

from freshrag.chunking import Chunker
from freshrag.embedding import SentenceTransformerEmbedder
from freshrag.parsing import ParsedDocument, Section


def test_tokenizer_and_callback_cut_the_same_chunks(
    embedder: SentenceTransformerEmbedder, shared_data: Path
) -> None:
    documents = []
    with (shared_data / "ir" / "scifact" / "corpus.jsonl").open() as lines:
        for line, _ in zip(lines, range(80), strict=False):
            row = json.loads(line)
            documents.append(ParsedDocument(row["title"], [Section((row["title"],), row["text"])]))
    one_paragraph = " ".join(document.sections[0].text for document in documents)  # far over any budget
    documents.append(ParsedDocument("", [Section(("Everything",), one_paragraph)]))
    by_callback = Chunker(embedder.count_tokens, 256, 160)
    by_tokenizer = Chunker(embedder.count_tokens, 256, 160, tokenizer=embedder.counting_tokenizer)
    expected = [[(c.key, c.text) for c in by_callback.chunk(document)] for document in documents]
    found = [[(c.key, c.text) for c in by_tokenizer.chunk(document)] for document in documents]
    assert found == expected
    assert len(found[-1]) > 40  # the long paragraph was cut, not kept whole
    assert all(embedder.count_tokens(text) <= 256 for _, text in found[-1])
