"""The process' own parser pool: what `parse_file` uses unless it is handed one."""

from __future__ import annotations

import atexit
import logging
import os
import threading

from freshrag.parsing.limits import ParseLimits
from freshrag.parsing.pool import ParserPool

log = logging.getLogger(__name__)

_lock = threading.Lock()
_pool: ParserPool | None = None


def shared_pool() -> ParserPool:
    """This process' pool, created on first use with the limits of its settings (`FRESHRAG_PARSE_*`) and
    closed before the interpreter joins its threads at exit, so that a parse in flight never delays an exit
    by up to its time limit."""
    global _pool
    with _lock:
        if _pool is None:
            _pool = ParserPool(_configured_limits())
            _close_before_threads_join(_pool)
        return _pool


def _configured_limits() -> ParseLimits:
    # Imported here: the parser processes import this package and need no settings.
    from freshrag.settings import Settings, SettingsError, load_settings

    try:
        return ParseLimits.from_settings(load_settings())
    except SettingsError as exc:  # the entry point has reported it already; parsing still needs limits
        log.error("parsing runs with the default limits: %s", exc)
        return ParseLimits.from_settings(Settings.model_construct())


def _close_before_threads_join(pool: ParserPool) -> None:
    # threading._register_atexit is the hook concurrent.futures stops its threads with: it runs before the
    # interpreter joins non-daemon threads (Celery's thread pool among them), where atexit runs only after.
    register = getattr(threading, "_register_atexit", atexit.register)
    try:
        register(pool.close)
    except RuntimeError:  # the interpreter is already stopping its threads
        atexit.register(pool.close)


def _forget_in_child() -> None:
    """A forked child (a Celery prefork worker) starts its own pool: the parent's processes and lock are the
    parent's."""
    global _lock, _pool
    _lock, _pool = threading.Lock(), None


os.register_at_fork(after_in_child=_forget_in_child)
