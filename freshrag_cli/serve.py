"""Composition of the long-running roles: `freshrag up` (all in one process) and the distributed roles."""

from __future__ import annotations

import ipaddress
import logging
import signal
import threading
import time

import uvicorn

from freshrag.coordination import open_coordination, resend_stranded_changes
from freshrag.runtime import build_runtime
from freshrag.settings import Settings, SettingsError
from freshrag.sources import IgnoreRules, WatchedFolder
from freshrag.webhooks.intake import resubmit_unapplied
from services.api import create_app
from services.watcher import FolderWatcher
from workers.app import InProcessWorker

log = logging.getLogger(__name__)


def check_exposure(settings: Settings) -> None:
    """Refuse to listen beyond loopback without an API token."""
    if settings.api_token:
        return
    host = settings.host
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise SettingsError(
            f"FRESHRAG_HOST: {host!r} is not a loopback address; set FRESHRAG_API_TOKEN to listen on it"
        )


def serve(settings: Settings, *, worker: bool, watch: bool) -> None:
    """Run the API, with a worker and with a watcher of the configured folders if asked, until interrupted."""
    check_exposure(settings)
    runtime = build_runtime(settings)
    in_process_worker = InProcessWorker(runtime) if worker else None
    watcher = (
        FolderWatcher(runtime.folders, runtime.rules, runtime.queue, settings.watch_settle_seconds)
        if watch and runtime.folders
        else None
    )
    config = uvicorn.Config(
        create_app(runtime),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        lifespan="on",  # runs the MCP session manager, which /mcp needs
        access_log=False,
    )
    server = uvicorn.Server(config)
    try:
        if in_process_worker:
            in_process_worker.start()
            # Webhook deliveries acknowledged before a crash but not yet indexed: the journal kept them.
            replayed = resubmit_unapplied(
                runtime.journal, runtime.queue, time.time(), dead_letters=runtime.dead_letters
            )
            if replayed:
                log.info("re-enqueued %d journalled webhook changes not yet indexed", replayed)
            resend_stranded_changes(settings, runtime.queue)
        if watcher:
            watcher.start()
        log.info(
            "freshrag listening on http://%s:%d, watching %s",
            settings.host,
            settings.port,
            ", ".join(str(f.path) for f in runtime.folders) or "no folder",
        )
        # uvicorn shuts down gracefully on SIGINT/SIGTERM, then re-raises the signal to the handler that was
        # installed before it: make that handler a clean exit, so the finally below stops everything.
        for handled in (signal.SIGINT, signal.SIGTERM):
            signal.signal(handled, _exit_cleanly)
        server.run()
    finally:
        if watcher:
            watcher.stop()
        if in_process_worker:
            in_process_worker.stop()
        runtime.close()


def _exit_cleanly(signum: int, frame: object) -> None:
    raise SystemExit(0)


def watch_only(settings: Settings) -> None:
    """The distributed watcher: needs the broker and the folders, not the store or the model."""
    folders = [WatchedFolder.of(path) for path in settings.watch]
    if not folders:
        raise SettingsError("FRESHRAG_WATCH: the watcher needs at least one folder (--watch DIR)")
    queue = open_coordination(settings).queue
    watcher = FolderWatcher(
        folders, IgnoreRules(settings.ignore_patterns), queue, settings.watch_settle_seconds
    )
    for handled in (signal.SIGINT, signal.SIGTERM):
        signal.signal(handled, _exit_cleanly)
    watcher.start()
    try:
        threading.Event().wait()
    finally:
        watcher.stop()
