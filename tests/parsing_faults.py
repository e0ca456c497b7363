"""Parsers that fail the way native parsers do on hostile files, for the parser isolation tests. A parser
process imports them by name, as it does the real ones."""

from __future__ import annotations

import ctypes
import os
import subprocess
import time
from pathlib import Path

from freshrag.parsing import ParsedDocument, ParseOptions, ParseResult, Section


def segfault(data: bytes, fallback_title: str, options: ParseOptions) -> ParseResult:
    ctypes.string_at(0)  # reads address 0: SIGSEGV, as PDFium did from two threads
    raise AssertionError("unreachable")


def abort(data: bytes, fallback_title: str, options: ParseOptions) -> ParseResult:
    os.abort()


def hang(data: bytes, fallback_title: str, options: ParseOptions) -> ParseResult:
    while True:
        time.sleep(1)


def hang_in_a_program(data: bytes, fallback_title: str, options: ParseOptions) -> ParseResult:
    """Waits on a program it started (as OCR and LibreOffice conversions do), writing the program's pid to
    the file named by `data` first."""
    program = subprocess.Popen(["sleep", "600"])
    Path(data.decode()).write_text(str(program.pid))
    program.wait()
    raise AssertionError("unreachable")


def exhaust_memory(data: bytes, fallback_title: str, options: ParseOptions) -> ParseResult:
    hoard = []
    while True:
        hoard.append(bytearray(64 * 2**20))


def exit_quietly(data: bytes, fallback_title: str, options: ParseOptions) -> ParseResult:
    os._exit(3)


def raise_error(data: bytes, fallback_title: str, options: ParseOptions) -> ParseResult:
    raise ValueError(f"cannot read {fallback_title}")


def echo(data: bytes, fallback_title: str, options: ParseOptions) -> ParseResult:
    return ParsedDocument(title=fallback_title, sections=[Section(heading=("echo",), text=data.decode())])
