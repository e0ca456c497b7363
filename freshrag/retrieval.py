"""How searches rank: a mode (dense, keyword, hybrid) and hybrid's fusion weights, and reading them from
what users type."""

from __future__ import annotations

from dataclasses import dataclass

from freshrag.store.interfaces import SearchMode


@dataclass(frozen=True)
class Retrieval:
    """How searches rank: the mode and, for hybrid, the fusion weights (dense, keyword)."""

    mode: SearchMode
    weights: tuple[float, float] = (1.0, 1.0)

    @property
    def label(self) -> str:
        if self.mode is not SearchMode.HYBRID:
            return self.mode.value
        return f"{self.mode.value} {self.weights[0]:g}:{self.weights[1]:g}"


DEFAULT_RETRIEVAL = Retrieval(SearchMode.HYBRID)


class RetrievalError(ValueError):
    """A search mode or fusion weights a user asked for that cannot be used; the message names the field."""


def parse_mode(value: str) -> SearchMode:
    """`value` as a search mode; raises `RetrievalError` naming the field `mode`."""
    try:
        return SearchMode(value.strip().lower())
    except ValueError:
        raise RetrievalError(
            f"mode: {value[:40]!r} is not a search mode; use one of {[m.value for m in SearchMode]}"
        ) from None


def parse_weights(value: str | list[float] | tuple[float, ...]) -> tuple[float, float]:
    """Fusion weights (dense, keyword) from "0.7,0.3" or a pair; raises `RetrievalError` naming `weights`."""
    parts = value.split(",") if isinstance(value, str) else list(value)
    try:
        numbers = [float(part) for part in parts]
    except (TypeError, ValueError):
        numbers = []
    if len(numbers) != 2 or not all(0.0 <= n <= 100.0 for n in numbers) or sum(numbers) == 0:
        raise RetrievalError(
            f"weights: {str(value)[:40]!r} is not two weights (dense, keyword) between 0 and 100, "
            "not both 0, for example 1,1"
        )
    return numbers[0], numbers[1]
