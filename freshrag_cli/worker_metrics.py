"""Metrics of a distributed worker node: prometheus-client's multiprocess mode, so that the counters and
histograms of every Celery prefork child are summed and served from the parent on one port
(`FRESHRAG_METRICS_PORT`, scraped as job `freshrag-worker`)."""

from __future__ import annotations

import logging
import os
import shutil

from freshrag.settings import Settings

log = logging.getLogger(__name__)


def export_worker_metrics(settings: Settings) -> None:
    """Switch this process (and the children it forks) to multiprocess metrics and serve them. Call before
    any metric is created: values written before the switch would not be seen."""
    if settings.metrics_port == 0:
        return
    folder = settings.data_dir / "metrics" / f"worker-{os.getpid()}"
    shutil.rmtree(folder, ignore_errors=True)  # a previous run's values must not be added to this one's
    folder.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)

    from prometheus_client import CollectorRegistry, multiprocess, start_http_server, values

    values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]  # if imported already
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    try:
        start_http_server(settings.metrics_port, addr=settings.host, registry=registry)
    except OSError as exc:  # a second worker on this host: it works, only its metrics are not served
        log.error(
            "worker metrics not served: %s:%d: %s (give each worker on a host its own FRESHRAG_METRICS_PORT)",
            settings.host,
            settings.metrics_port,
            exc.strerror,
        )
        return
    log.info("worker metrics on http://%s:%d/metrics", settings.host, settings.metrics_port)
