"""A search's query vector is the one sentence-transformers gives, however it is computed."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest

from freshrag.embedding import SentenceTransformerEmbedder
from freshrag.query_encoder import OnnxQueryEncoder


@pytest.fixture(scope="module")
def queries(shared_data: Path) -> list[str]:
    with (shared_data / "ir" / "scifact" / "queries.jsonl").open() as lines:
        return [json.loads(line)["text"] for line, _ in zip(lines, range(50), strict=False)]


def test_query_vectors_match_encode_for_real_queries(
    embedder: SentenceTransformerEmbedder, queries: list[str]
) -> None:
    model, direct = embedder._query_models.get()
    embedder._query_models.put((model, direct))
    # One text at a time, as a search asks (int8 activations are scaled per batch, so a batch differs).
    reference = np.vstack([model.encode([query], normalize_embeddings=True) for query in queries])
    found = np.vstack([embedder.embed_query(query) for query in queries])
    assert found.shape == reference.shape
    assert np.min(np.sum(found * reference, axis=1)) > 0.9999
    assert np.allclose(np.linalg.norm(found, axis=1), 1.0, atol=1e-5)


def test_the_packaged_model_takes_the_direct_path(embedder: SentenceTransformerEmbedder) -> None:
    model, direct = embedder._query_models.get()
    embedder._query_models.put((model, direct))
    assert isinstance(direct, OnnxQueryEncoder)
    assert OnnxQueryEncoder.of(model) is not None


def test_concurrent_queries_get_their_own_vectors(
    embedder: SentenceTransformerEmbedder, queries: list[str]
) -> None:
    """Searches embed at once, several model copies deep: no vector lands on another query."""
    expected = {query: embedder.embed_query(query) for query in queries[:10]}
    wrong: list[str] = []

    def search(offset: int) -> None:
        for query in queries[offset:10] + queries[:offset]:
            if float(np.dot(embedder.embed_query(query), expected[query])) < 0.9999:
                wrong.append(query)

    threads = [threading.Thread(target=search, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wrong == []
