"""Which retrieval the live search follows: pinned by FRESHRAG_SEARCH_MODE, or chosen by the golden set.

The scheduled quality check scores every candidate (dense, keyword, hybrid under a few fusion weights) on the
golden set and moves search to the best one only when it beats the current one by FRESHRAG_GOLDEN_MODE_MARGIN
in nDCG@10, measured in the same run: a move never makes the golden set worse. The choice and its history live
in the shared health state, so every process of a deployment follows it.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from freshrag.retrieval import Retrieval
from freshrag.settings import Settings
from freshrag.state.health import HealthState
from freshrag.store.interfaces import SearchMode

RETRIEVAL_KEY = "search:retrieval"
CACHE_SECONDS = 2.0
_HISTORY = 20
CANDIDATES = (
    Retrieval(SearchMode.DENSE),
    Retrieval(SearchMode.KEYWORD),
    Retrieval(SearchMode.HYBRID, (1.0, 1.0)),
    Retrieval(SearchMode.HYBRID, (2.0, 1.0)),
    Retrieval(SearchMode.HYBRID, (1.0, 2.0)),
)


@dataclass(frozen=True)
class Choice:
    """What the golden set decided in one run: the retrieval now live, and whether it moved."""

    live: Retrieval
    moved: bool
    scores: dict[str, float]


def choose(scores: dict[Retrieval, float], current: Retrieval, margin: float) -> Retrieval:
    """The retrieval to follow: the best scored one if it beats `current` by `margin`, else `current`."""
    best = max(scores, key=lambda retrieval: scores[retrieval])
    baseline = scores.get(current)
    if baseline is None or scores[best] >= baseline + margin:
        return best
    return current


def pinned(settings: Settings) -> Retrieval | None:
    """The retrieval FRESHRAG_SEARCH_MODE pins, if it does."""
    if settings.search_mode is None:
        return None
    return Retrieval(SearchMode(settings.search_mode), settings.search_weights)


def stored_retrieval(state: HealthState) -> Retrieval | None:
    stored = state.get(RETRIEVAL_KEY)
    if not stored or "mode" not in stored:
        return None
    return Retrieval(SearchMode(stored["mode"]), (float(stored["weights"][0]), float(stored["weights"][1])))


def record_choice(state: HealthState, choice: Choice, eval_set: str) -> None:
    """Store the live retrieval and, when it moved, one more entry of its history."""
    previous = state.get(RETRIEVAL_KEY) or {}
    history: list[dict[str, Any]] = list(previous.get("history", []))
    if choice.moved:
        history.append(
            {
                "at": time.time(),
                "from": previous.get("label"),
                "to": choice.live.label,
                "eval_set": eval_set,
                "scores": choice.scores,
            }
        )
    state.put(
        RETRIEVAL_KEY,
        {
            "mode": choice.live.mode.value,
            "weights": list(choice.live.weights),
            "label": choice.live.label,
            "scores": choice.scores,
            "eval_set": eval_set,
            "checked_at": time.time(),
            "history": history[-_HISTORY:],
        },
    )


def search_status(settings: Settings, state: HealthState, live: Retrieval) -> dict[str, Any]:
    """How searches rank now and why: pinned by a setting, chosen by the golden set, or the default; with
    the golden set's last scores per candidate and the history of its moves."""
    stored = state.get(RETRIEVAL_KEY) or {}
    if pinned(settings) is not None:
        chosen_by = "FRESHRAG_SEARCH_MODE"
    elif stored.get("mode"):
        chosen_by = f"golden set {stored.get('eval_set', '')}".strip()
    else:
        chosen_by = "default"
    return {
        "mode": live.mode.value,
        "weights": list(live.weights),
        "label": live.label,
        "chosen_by": chosen_by,
        "scores": stored.get("scores", {}),
        "checked_at": stored.get("checked_at"),
        "history": stored.get("history", []),
    }


class LiveRetrieval:
    """The retrieval searches follow now: the pinned one, else the golden set's choice (read at most every
    `CACHE_SECONDS`), else hybrid with the configured weights. Thread-safe."""

    def __init__(self, settings: Settings, state: HealthState) -> None:
        self._pinned = pinned(settings)
        self._default = Retrieval(SearchMode.HYBRID, settings.search_weights)
        self._state = state
        self._lock = threading.Lock()
        self._cached: tuple[float, Retrieval] | None = None

    @property
    def is_pinned(self) -> bool:
        return self._pinned is not None

    def __call__(self) -> Retrieval:
        if self._pinned is not None:
            return self._pinned
        now = time.monotonic()
        with self._lock:
            cached = self._cached
        if cached is not None and now - cached[0] < CACHE_SECONDS:
            return cached[1]
        try:
            retrieval = stored_retrieval(self._state) or self._default
        except Exception:  # the shared state out of reach for a moment: keep searching as before
            retrieval = cached[1] if cached is not None else self._default
        with self._lock:
            self._cached = (now, retrieval)
        return retrieval

    def forget(self) -> None:
        with self._lock:
            self._cached = None
