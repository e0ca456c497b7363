"""The Celery app: `celery -A workers.app worker` in distributed mode, a thread of `freshrag up` embedded.

Configuration comes from `Settings` when the app is first configured (not at import), or from the
entry point that binds its own runtime with `bind_runtime`.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from typing import Any

from celery import Celery, beat
from celery.signals import worker_ready, worker_shutdown, worker_shutting_down

from freshrag.coordination import open_coordination, resend_stranded_changes
from freshrag.health.collector import HEARTBEAT_SECONDS
from freshrag.queue import QUEUES, beat_schedule, celery_config
from freshrag.runtime import Runtime, build_runtime
from freshrag.settings import load_settings
from freshrag.state.health import HealthState

app = Celery("freshrag", include=["workers.indexing", "workers.evaluation", "workers.training"])

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


log = logging.getLogger(__name__)


class Heartbeat:
    """Tells the health state every few seconds that a worker is alive (`freshrag_workers_alive`)."""

    def __init__(self, health: HealthState, name: str) -> None:
        self._health = health
        self._name = name
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="freshrag-heartbeat", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()

    def _run(self) -> None:
        while True:
            try:
                self._health.heartbeat(self._name, time.time())
            except Exception as exc:
                log.warning("heartbeat of %s not recorded: %s", self._name, exc)
            if self._stopped.wait(HEARTBEAT_SECONDS):
                return


_heartbeats: list[Heartbeat] = []
# Set while this process' worker stops: tasks that wait on other tasks (the canary) give up at once, since
# what they wait for no longer runs, so that a shutdown never waits out their timeouts.
STOPPING = threading.Event()


@worker_ready.connect
def _start_heartbeat(sender: Any, **_: Any) -> None:
    """A worker started by `celery worker` (`freshrag worker`): beat from its main process, and send again
    the changes a killed worker's broker connection lost (it may have been this worker's predecessor)."""
    settings = load_settings()
    coordination = open_coordination(settings)  # no need for a whole runtime here
    heartbeat = Heartbeat(coordination.health, str(getattr(sender, "hostname", "worker")))
    _heartbeats.append(heartbeat)
    heartbeat.start()
    resend_stranded_changes(settings, coordination.queue)


@worker_shutting_down.connect
def _stopping(**_: Any) -> None:
    STOPPING.set()
    runtime = _runtime  # no lock: this runs in a signal handler, maybe while the main thread holds it
    if runtime is not None:  # a thread-pool worker: its running tasks give up their long work
        runtime.stopping.set()


@worker_shutdown.connect
def _stop_heartbeats(**_: Any) -> None:
    while _heartbeats:
        _heartbeats.pop().stop()


class InProcessWorker:
    """A Celery worker (thread pool) inside the current process: `freshrag up`. Embedded, it consumes the
    in-process broker and runs beat too, in a thread (Celery's embedded beat would fork a process, whose
    copy of the in-memory broker nobody reads); on Redis it is one more worker (beat runs as `freshrag
    beat`)."""

    def __init__(self, runtime: Runtime) -> None:
        bind_runtime(runtime)
        self._runtime = runtime
        settings = runtime.settings
        self._worker = app.WorkController(
            pool_cls="threads",
            # One thread more than indexing needs: a fine-tune run or a model switch takes one for minutes.
            concurrency=settings.worker_concurrency + 1,
            queues=list(QUEUES),
            without_heartbeat=settings.embedded,
            without_mingle=True,
            without_gossip=True,
            loglevel=settings.log_level,
        )
        self._thread = threading.Thread(target=self._worker.start, name="freshrag-worker", daemon=True)
        self._beat = (
            beat.EmbeddedService(app, thread=True, schedule_filename=str(settings.data_dir / "beat-schedule"))
            if settings.embedded and beat_schedule(settings)
            else None
        )
        self._heartbeat = Heartbeat(runtime.health, f"in-process@{socket.gethostname()}:{os.getpid()}")

    def start(self) -> None:
        STOPPING.clear()
        self._runtime.stopping.clear()
        self._thread.start()
        if self._beat is not None:
            self._beat.start()
        self._heartbeat.start()

    def stop(self) -> None:
        """Stop within seconds: a change being indexed gives up before its writes and is redone later
        (the broker delivers it again; embedded, the start-up reconcile or the journal finds it)."""
        STOPPING.set()
        self._runtime.stopping.set()
        self._heartbeat.stop()
        if self._beat is not None:
            self._beat.stop()
        self._worker.stop(in_sighandler=False)
        self._thread.join(timeout=10)
