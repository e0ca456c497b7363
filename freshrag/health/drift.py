"""Embedding drift: how far the live corpus, and what users ask, have moved from a reference.

Drift is the cosine distance between two centroids: the live one (a random sample of chunk vectors; the
newest window of user queries) and the reference one (taken when the live model went live; the first window
of queries it answered). A distance means little on its own, so each reference comes with a threshold: the
99th percentile of the same distance between resamples of the reference itself, i.e. what sampling noise
alone produces at these sample sizes. Above the threshold, the data really moved.
"""

from __future__ import annotations

import base64
import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

CORPUS = "corpus"
QUERY = "query"
KINDS = (CORPUS, QUERY)
RESAMPLES = 400
_SEED = 20261121  # resampling is seeded: the same reference always gets the same threshold


@dataclass(frozen=True)
class Reference:
    """A frozen reference: its centroid, its size and the drift threshold calibrated on it."""

    kind: str
    model_version: str
    centroid: np.ndarray
    size: int
    threshold: float
    taken_at: float

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["centroid"] = base64.b64encode(self.centroid.astype(np.float32).tobytes()).decode("ascii")
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Reference:
        centroid = np.frombuffer(base64.b64decode(data["centroid"]), dtype=np.float32)
        return cls(
            data["kind"], data["model_version"], centroid, data["size"], data["threshold"], data["taken_at"]
        )


@dataclass(frozen=True)
class Drift:
    kind: str
    value: float
    threshold: float
    sample: int
    reference_size: int
    model_version: str
    at: float

    @property
    def over(self) -> bool:
        return self.value > self.threshold


def centroid(vectors: np.ndarray) -> np.ndarray:
    mean: np.ndarray = np.asarray(vectors, dtype=np.float64).mean(axis=0)
    return mean


def cosine_distance(a: np.ndarray, b: np.ndarray) -> float:
    norm = float(np.linalg.norm(a) * np.linalg.norm(b))
    return 1.0 - float(np.dot(a, b)) / norm if norm > 0 else 0.0


def calibrate(reference: np.ndarray, live_size: int, resamples: int = RESAMPLES) -> float:
    """p99 of the centroid distance between a resample of `live_size` and a resample of the reference's own
    size, both drawn from the reference (with replacement): the drift that noise alone would show."""
    rng = np.random.default_rng(_SEED)
    vectors = np.asarray(reference, dtype=np.float32)
    size = len(vectors)
    distances = np.empty(resamples)
    for index in range(resamples):
        live = vectors[rng.integers(0, size, live_size)].mean(axis=0)
        again = vectors[rng.integers(0, size, size)].mean(axis=0)
        distances[index] = cosine_distance(live, again)
    return float(np.percentile(distances, 99))


def take_reference(kind: str, model_version: str, vectors: np.ndarray, live_size: int) -> Reference:
    """Freeze `vectors` as the reference, calibrated for live samples of `live_size`."""
    return Reference(
        kind=kind,
        model_version=model_version,
        centroid=centroid(vectors).astype(np.float32),
        size=len(vectors),
        threshold=round(calibrate(vectors, live_size), 6),
        taken_at=time.time(),
    )


def measure(reference: Reference, live: np.ndarray) -> Drift:
    return Drift(
        kind=reference.kind,
        value=round(cosine_distance(centroid(live), reference.centroid), 6),
        threshold=reference.threshold,
        sample=len(live),
        reference_size=reference.size,
        model_version=reference.model_version,
        at=time.time(),
    )
