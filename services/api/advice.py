"""`GET /advice`: the RAG-or-fine-tune advice (see `freshrag.advice`), also shown on the status page. It reads
every document record, so it is computed at most every `CACHE_SECONDS`, not on each refresh of the page."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from fastapi import APIRouter

from freshrag.advice.figures import FigureSources, gather_figures
from freshrag.advice.framework import advise

log = logging.getLogger(__name__)
CACHE_SECONDS = 30.0


class CachedAdvice:
    def __init__(self, services: FigureSources, seconds: float = CACHE_SECONDS) -> None:
        self._services = services
        self._seconds = seconds
        self._lock = threading.Lock()
        self._value: tuple[float, dict[str, Any]] | None = None

    def __call__(self) -> dict[str, Any]:
        with self._lock:
            now = time.monotonic()
            if self._value is None or now - self._value[0] > self._seconds:
                self._value = (now, advise(gather_figures(self._services)).to_json())
            return self._value[1]

    def for_status_page(self) -> dict[str, Any] | None:
        """The advice, or None when it cannot be computed now: the status page shows everything else."""
        try:
            return self()
        except Exception as exc:
            log.warning("the RAG-or-fine-tune advice could not be computed: %s", exc)
            return None


def advice_router(advice: CachedAdvice) -> APIRouter:
    router = APIRouter(tags=["status"])

    @router.get("/advice")
    def current() -> dict[str, Any]:
        """RAG, fine-tuning or both for what this index observes: `recommendation`, `confident`, `summary`,
        `findings` (each a question, the figure behind it and where it points, `thin` when the data is too
        little), `figures` and `notes` (costs). Recomputed at most every 30 s."""
        return advice()

    return router
