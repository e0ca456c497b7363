"""Query and corpus drift with the real model: real queries in, a drift figure against its calibrated
threshold out."""

from __future__ import annotations

import json
import random
import re
import subprocess
from pathlib import Path

import pytest

from freshrag.activity import Activity
from freshrag.embedding import SentenceTransformerEmbedder
from freshrag.health.checks import query_drift
from freshrag.state.health import CHANGES, QUERIES, SqliteHealthState

WINDOW = 150


@pytest.fixture(scope="module")
def scientific_claims(shared_data: Path) -> list[str]:
    """SciFact's queries, shuffled (the file is in id order, and neighbouring ids share topics): one
    stream of questions from one domain."""
    rows = (json.loads(line) for line in (shared_data / "ir/scifact/queries.jsonl").open(encoding="utf-8"))
    claims = [row["text"] for row in rows]
    random.Random(7).shuffle(claims)
    return claims


@pytest.fixture(scope="module")
def web_api_questions(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """Section headings of FastAPI's documentation: what users of another domain would look for."""
    clone = tmp_path_factory.mktemp("fastapi-docs") / "docs"
    subprocess.run(
        ["git", "clone", "-q", str(shared_data / "history/fastapi-docs-en.bundle"), str(clone)], check=True
    )
    headings = []
    for page in sorted(clone.rglob("*.md")):
        for line in page.read_text(encoding="utf-8", errors="replace").splitlines():
            match = re.match(r"#{2,3} (.{12,})", line)
            if match:
                headings.append(match.group(1).strip())
    return list(dict.fromkeys(headings))


def record(state: SqliteHealthState, embedder: SentenceTransformerEmbedder, queries: list[str]) -> None:
    activity = Activity(state)
    for query, vector in zip(queries, embedder.embed(queries), strict=True):
        activity.searched(query, 0.5, vector, embedder.model_version)
    activity.flush()


def test_a_shifted_query_stream_crosses_the_threshold_and_an_unshifted_one_does_not(
    tmp_path: Path,
    embedder: SentenceTransformerEmbedder,
    scientific_claims: list[str],
    web_api_questions: list[str],
) -> None:
    state = SqliteHealthState(tmp_path / "health.sqlite3", {CHANGES: 100, QUERIES: 4 * WINDOW})
    model = embedder.model_version
    record(state, embedder, scientific_claims[:WINDOW])
    reference = query_drift(state, model, WINDOW)  # the first full window becomes the reference
    assert reference is not None
    assert reference.value == pytest.approx(0.0, abs=1e-6)

    record(state, embedder, scientific_claims[WINDOW : 2 * WINDOW])  # same kind of questions, new ones
    unshifted = query_drift(state, model, WINDOW)
    assert unshifted is not None
    assert 0 < unshifted.value < unshifted.threshold, unshifted

    assert len(web_api_questions) >= WINDOW
    record(state, embedder, web_api_questions[:WINDOW])  # users start asking about something else
    shifted = query_drift(state, model, WINDOW)
    assert shifted is not None
    assert shifted.value > shifted.threshold, shifted
    assert shifted.threshold == unshifted.threshold  # the reference, and its threshold, stayed frozen
    state.close()


def test_no_query_drift_is_reported_before_the_reference_window_fills(
    tmp_path: Path, embedder: SentenceTransformerEmbedder, scientific_claims: list[str]
) -> None:
    state = SqliteHealthState(tmp_path / "health.sqlite3", {CHANGES: 100, QUERIES: 4 * WINDOW})
    record(state, embedder, scientific_claims[: WINDOW - 1])
    assert query_drift(state, embedder.model_version, WINDOW) is None
    state.close()
