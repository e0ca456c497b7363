"""Stand-ins for the model, the parser and the registry's storage, for unit tests of the logic around them.

Each does the least that keeps the logic under test honest: the embedder gives equal texts equal vectors and
different models different vectors, and records what it was asked to embed (so a test sees what was
re-embedded); the parser makes one section per paragraph (so one short paragraph is one chunk).
"""

from __future__ import annotations

import hashlib
from pathlib import Path, PurePath
from typing import Any

import numpy as np

from freshrag.parsing import ParsedDocument, ParseResult, Section, Skipped
from freshrag.state.dead_letters import DeadLetter
from freshrag.state.registry import ModelRun

DIMENSION = 32


class HashingEmbedder:
    """Bag of words hashed into `DIMENSION` buckets, salted by `model_version`: deterministic, no model."""

    def __init__(self, model_version: str = "base") -> None:
        self.model_version = model_version
        self.dimension = DIMENSION
        self.model_dir = Path("/models") / model_version
        self.embedded: list[str] = []  # every text embedded for documents, in order

    def embed(self, texts: list[str]) -> np.ndarray:
        self.embedded.extend(texts)
        return np.stack([self._vector(text) for text in texts]) if texts else np.zeros((0, DIMENSION))

    def embed_query(self, text: str) -> np.ndarray:
        return self._vector(text)

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def _vector(self, text: str) -> np.ndarray:
        vector = np.zeros(DIMENSION, dtype=np.float32)
        for word in text.lower().split():
            digest = hashlib.sha256(f"{self.model_version}:{word}".encode()).digest()
            vector[digest[0] % DIMENSION] += 1.0 if digest[1] % 2 else -1.0
        norm = float(np.linalg.norm(vector))
        return vector / norm if norm else vector


def parse_paragraphs(name: str, data: bytes) -> ParseResult:
    """The file's stem as its title and one section per paragraph; a file without text is skipped."""
    paragraphs = [part.strip() for part in data.decode().split("\n\n") if part.strip()]
    if not paragraphs:
        return Skipped("no extractable text")
    title = PurePath(name).stem
    return ParsedDocument(title, [Section((f"part {n}",), text) for n, text in enumerate(paragraphs)])


class MemoryRegistryStore:
    """The registry's storage in dicts (`freshrag.state.registry.RegistryStore`)."""

    def __init__(self) -> None:
        self.runs: dict[str, ModelRun] = {}
        self.values: dict[str, Any] = {}

    def put_run(self, run: ModelRun) -> None:
        self.runs[run.version] = run

    def get_run(self, version: str) -> ModelRun | None:
        return self.runs.get(version)

    def all_runs(self) -> list[ModelRun]:
        return sorted(self.runs.values(), key=lambda run: run.created_at)

    def put_value(self, key: str, value: Any) -> None:
        self.values[key] = value

    def get_value(self, key: str) -> Any:
        return self.values.get(key)

    def close(self) -> None:
        """Nothing to release."""


class MemoryDeadLetters:
    """Dead letters in a dict (`freshrag.state.dead_letters.DeadLetters`)."""

    def __init__(self) -> None:
        self.letters: dict[str, DeadLetter] = {}

    def add(self, letter: DeadLetter) -> None:
        self.letters[letter.change.doc_id] = letter

    def get(self, doc_id: str) -> DeadLetter | None:
        return self.letters.get(doc_id)

    def discard(self, doc_id: str) -> None:
        self.letters.pop(doc_id, None)

    def remove(self, letter: DeadLetter) -> None:
        if self.letters.get(letter.change.doc_id) == letter:
            del self.letters[letter.change.doc_id]

    def all(self) -> list[DeadLetter]:
        return sorted(self.letters.values(), key=lambda letter: letter.failed_at)

    def count(self) -> int:
        return len(self.letters)
