"""The model runs straight on ONNX Runtime, with sentence-transformers' own vectors, and a process that
embeds starts without importing sentence-transformers or PyTorch; a model of another shape keeps them."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from freshrag.embedding import PACKAGED_MODEL, SentenceTransformerEmbedder
from freshrag.onnx_encoder import SPEC_FILE


@pytest.fixture(scope="module")
def queries(shared_data: Path) -> list[str]:
    with (shared_data / "ir" / "scifact" / "queries.jsonl").open() as lines:
        return [json.loads(line)["text"] for line, _ in zip(lines, range(50), strict=False)]


@pytest.fixture(scope="module")
def abstracts(shared_data: Path) -> list[str]:
    with (shared_data / "ir" / "scifact" / "corpus.jsonl").open() as lines:
        rows = [json.loads(line) for line, _ in zip(lines, range(120), strict=False)]
    return [f"{row['title']}\n\n{row['text']}" for row in rows] + [row["title"] for row in rows[:20]]


def exported(models_dir: Path, model: str = PACKAGED_MODEL) -> tuple[Path, str]:
    folder = models_dir / model
    (quantised,) = (folder / "onnx").glob("model_q*int8*.onnx")
    return folder, f"onnx/{quantised.name}"


def reference_model(folder: Path, onnx_file: str) -> Any:
    """sentence-transformers' own model (imported here: the suite's processes need it nowhere else)."""
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(
        str(folder), device="cpu", backend="onnx", model_kwargs={"file_name": onnx_file}
    )


def test_the_packaged_model_runs_straight_on_onnx_runtime_with_encodes_vectors(
    embedder: SentenceTransformerEmbedder, models_dir: Path, queries: list[str], abstracts: list[str]
) -> None:
    assert embedder.direct
    model = reference_model(*exported(models_dir))
    # Queries one at a time, as a search asks (int8 activations are scaled per batch, so a batch differs);
    # a short query is tokenized holding the GIL, a long one (an abstract pasted in) without it.
    asked = [*queries, abstracts[0]]
    assert len(abstracts[0]) > 1000
    expected = np.vstack([model.encode([query], normalize_embeddings=True) for query in asked])
    found = np.vstack([embedder.embed_query(query) for query in asked])
    assert found.shape == expected.shape
    assert np.min(np.sum(found * expected, axis=1)) > 0.9999
    # Documents in batches, long and short mixed: the same batches as encode() forms, the same vectors.
    expected = model.encode(abstracts, batch_size=32, normalize_embeddings=True)
    found = embedder.embed(abstracts)
    assert np.min(np.sum(found * expected, axis=1)) > 0.9999
    assert np.allclose(np.linalg.norm(found, axis=1), 1.0, atol=1e-5)


def test_a_process_that_embeds_never_imports_sentence_transformers_or_pytorch(
    embedder: SentenceTransformerEmbedder, models_dir: Path
) -> None:
    program = (
        "import sys\n"
        "from freshrag.embedding import load_embedder\n"
        "from freshrag.settings import load_settings\n"
        f"embedder = load_embedder(load_settings(model_cache_dir={str(models_dir)!r}))\n"
        "embedder.embed(['a document']); embedder.embed_query('a query')\n"
        "print(sorted({'torch', 'transformers', 'sentence_transformers'} & set(sys.modules)))\n"
    )
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_a_model_of_another_shape_keeps_sentence_transformers(
    embedder: SentenceTransformerEmbedder, models_dir: Path, tmp_path: Path, queries: list[str]
) -> None:
    """CLS pooling instead of the mean: the direct encoder's check fails and says so in the cache, and the
    model is served through sentence-transformers with its own vectors."""
    source, onnx_file = exported(models_dir)
    folder = tmp_path / "cache" / "cls-pooled"
    shutil.copytree(source, folder, ignore=shutil.ignore_patterns(SPEC_FILE, "*.lock"))
    pooling = folder / "1_Pooling" / "config.json"
    pooling.write_text(json.dumps(json.loads(pooling.read_text()) | {"pooling_mode": "cls"}))

    cls_pooled = SentenceTransformerEmbedder(folder, "onnx-int8", tmp_path / "cache")

    assert not cls_pooled.direct
    assert json.loads((folder / SPEC_FILE).read_text()) == {onnx_file: None}
    model = reference_model(folder, onnx_file)
    expected = np.vstack([model.encode([query], normalize_embeddings=True) for query in queries[:10]])
    found = np.vstack([cls_pooled.embed_query(query) for query in queries[:10]])
    assert np.min(np.sum(found * expected, axis=1)) > 0.9999
    assert np.min(np.sum(found * np.vstack([embedder.embed_query(q) for q in queries[:10]]), axis=1)) < 0.99


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
