"""The Celery app: `celery -A workers.app worker` in distributed mode, a thread of `freshrag up` embedded.

Configuration comes from `Settings` when the app is first configured (not at import), or from the
entry point that binds its own runtime with `bind_runtime`.
"""

from __future__ import annotations

import threading
from typing import Any

from celery import Celery

from freshrag.queue import INDEXING_QUEUE, celery_config
from freshrag.runtime import Runtime, build_runtime
from freshrag.settings import load_settings

app = Celery("freshrag", include=["workers.indexing"])

_runtime: Runtime | None = None
_runtime_lock = threading.Lock()


@app.on_configure.connect
def _configure_from_environment(sender: Celery, **_: Any) -> None:
    if _runtime is None:  # an entry point that bound its runtime configures the app from it instead
        sender.conf.update(celery_config(load_settings()))


def bind_runtime(runtime: Runtime) -> None:
    """Use `runtime` for every task of this process and configure the app from its settings."""
    global _runtime
    with _runtime_lock:
        _runtime = runtime
    app.conf.update(celery_config(runtime.settings))


def current_runtime() -> Runtime:
    """The runtime bound by the entry point, or one built from the environment on first use."""
    global _runtime
    with _runtime_lock:
        if _runtime is None:
            _runtime = build_runtime(load_settings())
        return _runtime


class InProcessWorker:
    """A Celery worker (thread pool) inside the current process: `freshrag up`. Embedded, it consumes the
    in-process broker and runs beat too; on Redis it is one more worker (beat runs as `freshrag beat`)."""

    def __init__(self, runtime: Runtime) -> None:
        bind_runtime(runtime)
        embedded = runtime.settings.embedded
        self._worker = app.WorkController(
            pool_cls="threads",
            concurrency=runtime.settings.worker_concurrency,
            queues=[INDEXING_QUEUE],
            without_heartbeat=embedded,
            without_mingle=True,
            without_gossip=True,
            beat=embedded and runtime.settings.reconcile_interval_seconds > 0,
            schedule_filename=str(runtime.settings.data_dir / "beat-schedule"),
            loglevel=runtime.settings.log_level,
        )
        self._thread = threading.Thread(target=self._worker.start, name="freshrag-worker", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._worker.stop(in_sighandler=False)
        self._thread.join(timeout=10)
