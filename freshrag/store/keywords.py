"""Keyword vectors: BM25 term frequencies of a chunk, with the IDF left to the engine.

Qdrant's own BM25 model (from `qdrant-edge-py`, the one a Qdrant server runs for its inference) tokenizes
Unicode words in lower case, drops English stop words and applies the Snowball English stemmer; each term
is hashed to a token id. A document's vector holds BM25's saturated term frequency (k1 = 1.2, b = 0.75); a
query's holds 1.0 per term; the collection's IDF modifier multiplies in each term's inverse document
frequency at query time, so adding a document never rewrites the others. The vectors depend on the text
alone, never on the embedding model: a model switch computes the same ones again.
"""

from __future__ import annotations

import qdrant_edge

from freshrag.store.interfaces import SparseVector

_MODEL = qdrant_edge.Bm25(
    qdrant_edge.Bm25Config(language="english", tokenizer=qdrant_edge.TokenizerType.Word, lowercase=True)
)


def document_terms(text: str) -> SparseVector:
    """The BM25 term-frequency vector of a chunk's text (title and headings included)."""
    vector = _MODEL.embed_document(text)
    return SparseVector(list(vector.indices), list(vector.values))


def query_terms(text: str) -> SparseVector:
    """The terms of a query, each weighted 1.0 (the engine adds their IDF)."""
    vector = _MODEL.embed_query(text)
    return SparseVector(list(vector.indices), list(vector.values))


def chunk_terms(title: str, heading: list[str] | tuple[str, ...], text: str) -> SparseVector:
    """The keyword vector of a stored chunk from its payload: title, heading path and text. Computed from the
    payload alone, so a copy between collections or stores gives the same vector the pipeline wrote."""
    return document_terms("\n".join(part for part in (title, " ".join(heading), text) if part))
