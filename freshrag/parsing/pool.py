"""Parsers run in separate processes, so that a crash, hang or memory blow-up of a native parser (PDFium,
lxml, lexbor) on a hostile file fails that one file while the service that asked carries on.

A `ParserPool` keeps up to `limits.workers` parser processes (`freshrag.parsing.worker`), started on demand
and reused, each parsing one file at a time: native libraries that are not thread-safe (PDFium) never see two
threads. A process that crashed, overran its time or memory, or retired is replaced when next needed. The
processes are started by fork and exec (never forked bare from this multi-threaded process), hold nothing but
the pipes to their pool, and exit when it closes or when this process dies (their input closes).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
from multiprocessing.connection import Connection

from freshrag.parsing.limits import ParseLimits
from freshrag.parsing.model import Failed, Parser, ParseResult
from freshrag.parsing.protocol import (
    READY,
    ProtocolError,
    decode_result,
    encode_request,
    parser_reference,
)

log = logging.getLogger(__name__)

_WORKER_MODULE = "freshrag.parsing.worker"
_START_SECONDS = 30.0  # a parser process imports its libraries in about 0.5 s; this is for a loaded machine
_EXIT_GRACE_SECONDS = 2.0  # a process whose output closed gets this long to exit before it is killed
_FILES_PER_PROCESS = 1000  # then the process is replaced: bounds what native parsers leak
_CLOSED = "the parser pool is closed (freshrag is stopping)"


class ParsingUnavailable(RuntimeError):
    """The file was not parsed for a reason that is not the file's (the pool closed, no parser process could
    start): nothing is known about the file, and trying again later is right."""


class ParserPool:
    """Parser processes under `limits`; `parse` may be called from any number of threads (at most
    `limits.workers` parse at once, the others wait); `close` stops every process."""

    def __init__(self, limits: ParseLimits) -> None:
        self.limits = limits
        self._slots = threading.BoundedSemaphore(limits.workers)
        self._lock = threading.Lock()
        self._idle: list[_Process] = []
        self._live: set[_Process] = set()
        self._closed = False

    def parse(self, parser: Parser, data: bytes, fallback_title: str) -> ParseResult:
        """`parser(data, fallback_title)` run in a parser process. Its result, or `Failed` with the reason
        when it crashed ("parser crashed (signal 11, SIGSEGV)"), overran its time or memory ("parser exceeded
        60 s", "parser exceeded 1024 MiB") or raised. Raises `ParsingUnavailable` (see there), and
        `ValueError` for a parser that is not a module-level function (a process imports it by name)."""
        request = encode_request(parser_reference(parser), fallback_title, self.limits.options)
        with self._slots:
            process = self._checkout()
            result, reusable = self._exchange(process, request, data)
            self._checkin(process, reusable)
        return result

    def close(self) -> None:
        """Stop every parser process at once; a parse in flight raises `ParsingUnavailable`. Never waits for
        a parser; calling it again does nothing."""
        with self._lock:
            self._closed = True
            idle, busy = self._idle, self._live.difference(self._idle)
            self._idle, self._live = [], set()
        for process in busy:
            process.signal_kill()  # the thread waiting on it sees its output close and cleans up
        for process in idle:
            process.stop()

    def __enter__(self) -> ParserPool:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _checkout(self) -> _Process:
        with self._lock:
            if self._closed:
                raise ParsingUnavailable(_CLOSED)
            while self._idle:
                process = self._idle.pop()
                if process.running():
                    return process
                self._live.discard(process)  # died while idle (the OOM killer, an operator): replaced
                process.stop()
        return self._start()

    def _start(self) -> _Process:
        try:
            process = _Process(self.limits.memory_bytes)
        except OSError as exc:
            raise ParsingUnavailable(f"could not start a parser process: {exc}") from exc
        with self._lock:
            closed = self._closed
            if not closed:
                self._live.add(process)
        if closed:
            process.stop()
            raise ParsingUnavailable(_CLOSED)
        try:
            ready = process.answers.poll(_START_SECONDS) and process.answers.recv_bytes() == READY
        except (OSError, EOFError):
            ready = False
        if not ready:
            status = process.exit_status(_EXIT_GRACE_SECONDS)
            self._discard(process)
            if self._closed:
                raise ParsingUnavailable(_CLOSED)
            how = _describe_exit(status) if status is not None else f"no answer in {_START_SECONDS:g} s"
            raise ParsingUnavailable(f"a parser process did not start ({how}); its error is logged above")
        return process

    def _exchange(self, process: _Process, request: bytes, data: bytes) -> tuple[ParseResult, bool]:
        """Send one file, wait for the answer within the time limit; (result, whether the process is fit to
        parse the next file)."""
        try:
            process.requests.send_bytes(request)
            process.requests.send_bytes(data)
            if not process.answers.poll(self.limits.timeout_seconds):
                self._discard(process)
                return Failed(f"parser exceeded {self.limits.timeout_seconds:g} s"), False
            result, retire = decode_result(process.answers.recv_bytes(self.limits.memory_bytes))
        except (OSError, EOFError, ProtocolError) as exc:  # the process died, or answered nonsense
            status = process.exit_status(_EXIT_GRACE_SECONDS)
            self._discard(process)
            if self._closed:
                raise ParsingUnavailable(_CLOSED) from None
            if status is None:
                log.error("parser process %d broke the protocol and was replaced: %s", process.pid, exc)
                return Failed(f"parser process misbehaved: {exc}"), False
            return Failed(_describe_exit(status)), False
        process.files += 1
        return result, not retire and process.files < _FILES_PER_PROCESS

    def _checkin(self, process: _Process, reusable: bool) -> None:
        with self._lock:
            if reusable and not self._closed and process in self._live:
                self._idle.append(process)
                return
        self._discard(process)

    def _discard(self, process: _Process) -> None:
        with self._lock:
            self._live.discard(process)
        process.stop()


class _Process:
    """One parser process and the pipes to it (requests in, answers out)."""

    def __init__(self, memory_bytes: int) -> None:
        request_read, request_write = os.pipe()
        answer_read, answer_write = os.pipe()
        try:
            self.popen = subprocess.Popen(
                [sys.executable, "-P", "-m", _WORKER_MODULE, str(memory_bytes)],
                stdin=request_read,
                stdout=answer_write,
                env={**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)},
                start_new_session=True,  # a Ctrl-C in the terminal is the service's to handle, not theirs
            )
        except BaseException:
            os.close(request_write)
            os.close(answer_read)
            raise
        finally:
            os.close(request_read)
            os.close(answer_write)
        self.pid = self.popen.pid
        self.requests: Connection[bytes, bytes] = Connection(request_write, readable=False)
        self.answers: Connection[bytes, bytes] = Connection(answer_read, writable=False)
        self.files = 0

    def running(self) -> bool:
        return self.popen.poll() is None

    def exit_status(self, grace: float) -> int | None:
        """The exit status (negative: the signal that ended it) once the process ends within `grace` s."""
        try:
            return self.popen.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            return None

    def signal_kill(self) -> None:
        """SIGKILL to the process and the programs it runs (OCR, converters): its session is its group."""
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGKILL)

    def stop(self) -> None:
        """Kill the process (if still running), reap it and close the pipes."""
        self.signal_kill()
        if self.exit_status(_EXIT_GRACE_SECONDS) is None:
            log.error("parser process %d does not exit after SIGKILL; left behind", self.pid)
        self.requests.close()
        self.answers.close()


def _describe_exit(status: int) -> str:
    if status < 0:
        try:
            name = signal.Signals(-status).name
        except ValueError:
            return f"parser crashed (signal {-status})"
        return f"parser crashed (signal {-status}, {name})"
    return f"parser exited unexpectedly (status {status})"
