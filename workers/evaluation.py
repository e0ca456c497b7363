"""Monitoring tasks on the beat schedule: the canary, drift, and the golden set. Thin: the logic is in
freshrag.health; results go to the shared health state (for /metrics, /status and the status page) and the
canary's latency to this process's metrics."""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Any

from freshrag.health import checks
from freshrag.health.canary import Canary
from freshrag.queue import CANARY, EVALUATE_GOLDEN_SET, MEASURE_DRIFT
from workers.app import STOPPING, app, current_runtime

log = logging.getLogger(__name__)


@app.task(name=CANARY)
def canary() -> dict[str, Any] | None:
    """Write the canary, wait until search finds it, remove it; export the latency or the failure."""
    runtime = current_runtime()
    result = Canary(runtime.health, runtime.queue, runtime.search, stopping=STOPPING).run(
        runtime.settings.canary_timeout_seconds
    )
    if result is None:
        log.info("canary not run through: the previous one is still in flight, or the worker is stopping")
        return None
    runtime.metrics.canary_runs.labels(result.outcome).inc()
    if result.latency_seconds is not None:
        runtime.metrics.canary_latency.observe(result.latency_seconds)
    else:
        log.warning("canary %s: %s", result.outcome, result.reason)
    return result.to_json()


@app.task(name=MEASURE_DRIFT)
def measure_drift() -> dict[str, Any]:
    runtime = current_runtime()
    measured = {}
    for name, measure in (("corpus", checks.measure_corpus_drift), ("query", checks.measure_query_drift)):
        result = measure(runtime)
        measured[name] = None if result is None else asdict(result)
    return measured


@app.task(name=EVALUATE_GOLDEN_SET)
def evaluate_golden_set() -> dict[str, Any] | None:
    runtime = current_runtime()
    if runtime.settings.golden_set is None:
        return None  # this worker has no golden set (FRESHRAG_GOLDEN_SET): nothing to score
    quality = checks.evaluate_quality(runtime)
    return None if quality is None else quality.to_json()
