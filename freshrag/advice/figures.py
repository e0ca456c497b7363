"""What freshrag observed, gathered for the advice: the document records (what changed when), the change,
query and answer logs, the golden-set result, the model registry and the price settings."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Protocol

from freshrag.advice.framework import Figures
from freshrag.documents import Origin
from freshrag.health.quality import QUALITY_RESULT
from freshrag.settings import Settings
from freshrag.state.health import ANSWERS, CHANGES, QUERIES, HealthState
from freshrag.state.registry import Backend, ModelRun, Registry, RunStatus
from freshrag.store import Store

DAY = 86_400.0
LOG_READ = 10_000  # more than any log keeps


class FigureSources(Protocol):
    """What the advice's figures are read from."""

    @property
    def settings(self) -> Settings: ...

    @property
    def health(self) -> HealthState: ...

    @property
    def registry(self) -> Registry: ...

    @property
    def store(self) -> Store: ...


def gather_figures(services: FigureSources, now: float | None = None) -> Figures:
    """Read every figure the framework asks about from `runtime`'s store, logs, registry and settings."""
    now = time.time() if now is None else now
    settings, health = services.settings, services.health
    runs = services.registry.runs()
    created = min((run.created_at for run in runs), default=now)
    records = list(services.store.records())
    queries = health.tail(QUERIES, LOG_READ)
    answers = health.tail(ANSWERS, LOG_READ)
    changes = [entry for entry in health.tail(CHANGES, LOG_READ) if entry.get("origin") == Origin.LIVE.value]
    history_days = max(now - created, 0.0) / DAY
    quality = health.get(QUALITY_RESULT)
    called = [entry for entry in answers if entry.get("model")]
    prompt_tokens = _mean([entry.get("prompt_tokens", 0) for entry in called])
    completion_tokens = _mean([entry.get("completion_tokens", 0) for entry in called])
    chunks = _mean([record.chunk_count for record in records if record.chunk_count])
    gaps = [
        entry
        for entry in queries
        if entry.get("unanswered")
        or entry.get("top_score") is None
        or entry["top_score"] < settings.gap_score
    ]
    finished = [run for run in runs if run.backend is Backend.LOCAL and run.metrics and run.baseline_metrics]
    return Figures(
        now=now,
        history_days=round(history_days, 2),
        documents=len(records),
        changed_7d=sum(1 for record in records if record.updated_at >= now - 7 * DAY),
        changed_30d=sum(1 for record in records if record.updated_at >= now - 30 * DAY),
        live_changes_per_day=_per_day(changes, now, created),
        queries_per_day=_per_day(queries, now, created),
        queries_seen=len(queries),
        gap_rate=round(len(gaps) / len(queries), 4) if queries else None,
        answers_seen=len(answers),
        answer_outcomes=_count(answer["outcome"] for answer in answers),
        ndcg_at_10=None if quality is None else quality.get("ndcg_at_10"),
        ndcg_baseline=None if quality is None else (quality.get("baseline") or {}).get("ndcg_at_10"),
        finetune_runs=len(finished),
        finetune_promoted=sum(1 for run in finished if run.status in (RunStatus.LIVE, RunStatus.RETIRED)),
        finetune_best_gain=max((_gain(run) for run in finished), default=None),
        answer_model_fine_tuned=services.registry.live(Backend.OPENAI) is not None,
        curated_examples=_lines(settings.openai_examples),
        prompt_tokens_per_answer=prompt_tokens,
        completion_tokens_per_answer=completion_tokens,
        cost_per_answer=_cost(
            prompt_tokens,
            completion_tokens,
            settings.price_prompt_per_million,
            settings.price_completion_per_million,
        ),
        embedding_cost_per_change=(
            round(chunks * settings.chunk_target_tokens * settings.price_embedding_per_million / 1e6, 8)
            if chunks is not None and settings.price_embedding_per_million
            else None
        ),
    )


def _per_day(entries: list[dict[str, Any]], now: float, created: float) -> float | None:
    """Entries a day over the span they cover: since the oldest one kept when the log is at its cap (it
    dropped older ones), else since the index was created."""
    if not entries:
        return None
    oldest = float(min(entry["at"] for entry in entries))
    since = oldest if len(entries) >= 1000 else min(created, oldest)
    days = max(now - since, 3600.0) / DAY  # at least an hour: a first minute says nothing about a day
    return round(len(entries) / days, 2)


def _gain(run: ModelRun) -> float:
    metrics, baseline = run.metrics or {}, run.baseline_metrics or {}
    return round(metrics.get("ndcg_at_10", 0.0) - baseline.get("ndcg_at_10", 0.0), 4)


def _mean(values: list[Any]) -> float | None:
    return round(sum(values) / len(values), 1) if values else None


def _count(values: Any) -> dict[str, int]:
    counted: dict[str, int] = {}
    for value in values:
        counted[value] = counted.get(value, 0) + 1
    return counted


def _lines(path: Path | None) -> int | None:
    if path is None:
        return None
    try:
        return sum(1 for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
    except OSError:
        return None


def _cost(
    prompt: float | None, completion: float | None, per_prompt: float, per_completion: float
) -> float | None:
    if prompt is None or completion is None or not (per_prompt or per_completion):
        return None
    return round((prompt * per_prompt + completion * per_completion) / 1e6, 8)
