"""Formats read by converting them first with LibreOffice headless (Debian's `libreoffice-*-nogui`): legacy
binary Word and PowerPoint (.doc, .ppt), .rtf, and OpenDocument text and slides (.odt, .odp) become the OOXML
files our parsers read (workbooks need no conversion: see `sheets`). Each conversion runs in a temporary
folder with a profile of its own (conversions in parallel parser processes never share one), in a session of
its own killed whole when it overruns."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from freshrag.parsing.docx import parse_docx
from freshrag.parsing.model import Failed, ParseOptions, Parser, ParseResult, Skipped
from freshrag.parsing.packages import is_ole, refuse_package
from freshrag.parsing.slides import parse_pptx


@dataclass(frozen=True)
class _Conversion:
    suffix: str
    source: str  # LibreOffice's import filter: never its guess, which reads a damaged file as plain text
    target: str  # LibreOffice's --convert-to argument
    package: str  # the Debian package whose filters read `suffix`
    parser: Parser


_WRITER, _IMPRESS = "libreoffice-writer-nogui", "libreoffice-impress-nogui"
_DOCX = "docx:MS Word 2007 XML"
_PPTX = "pptx:Impress MS PowerPoint 2007 XML"


def parse_doc(data: bytes, fallback_title: str, options: ParseOptions) -> ParseResult:
    if not is_ole(data):
        return Failed("damaged or not a Word 97-2003 .doc file (no OLE compound file header)")
    return _convert(
        data, fallback_title, options, _Conversion(".doc", "MS Word 97", _DOCX, _WRITER, parse_docx)
    )


def parse_rtf(data: bytes, fallback_title: str, options: ParseOptions) -> ParseResult:
    if not data.lstrip().startswith(b"{\\rtf"):
        return Failed("damaged or not an RTF file (it does not start with {\\rtf)")
    return _convert(
        data, fallback_title, options, _Conversion(".rtf", "Rich Text Format", _DOCX, _WRITER, parse_docx)
    )


def parse_odt(data: bytes, fallback_title: str, options: ParseOptions) -> ParseResult:
    refused = refuse_package(data, "a .odt file")
    return refused or _convert(
        data, fallback_title, options, _Conversion(".odt", "writer8", _DOCX, _WRITER, parse_docx)
    )


def parse_ppt(data: bytes, fallback_title: str, options: ParseOptions) -> ParseResult:
    if not is_ole(data):
        return Failed("damaged or not a PowerPoint 97-2003 .ppt file (no OLE compound file header)")
    return _convert(
        data, fallback_title, options, _Conversion(".ppt", "MS PowerPoint 97", _PPTX, _IMPRESS, parse_pptx)
    )


def parse_odp(data: bytes, fallback_title: str, options: ParseOptions) -> ParseResult:
    refused = refuse_package(data, "a .odp file")
    return refused or _convert(
        data, fallback_title, options, _Conversion(".odp", "impress8", _PPTX, _IMPRESS, parse_pptx)
    )


def _convert(data: bytes, fallback_title: str, options: ParseOptions, conversion: _Conversion) -> ParseResult:
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        package = conversion.package
        return Skipped(
            f"reading {conversion.suffix} files needs LibreOffice: install the Debian package {package}"
        )
    with tempfile.TemporaryDirectory(prefix="freshrag-convert-") as folder:
        work = Path(folder)
        source = work / f"source{conversion.suffix}"
        source.write_bytes(data)
        command = [
            soffice,
            "--headless",
            "--norestore",
            "--nolockcheck",
            f"-env:UserInstallation={(work / 'profile').as_uri()}",
            f"--infilter={conversion.source}",
            "--convert-to",
            conversion.target,
            "--outdir",
            str(work / "out"),
            str(source),
        ]
        # A session of its own: on a timeout its whole group (oosplash and soffice.bin) is killed.
        process = subprocess.Popen(
            command,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
            env={**os.environ, "TMPDIR": str(work)},  # its scratch files go with the folder
        )
        try:
            _, errors = process.communicate(timeout=options.seconds)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            return Failed(f"LibreOffice did not convert it within {options.seconds:g} s")
        converted = work / "out" / f"source.{conversion.target.partition(':')[0]}"
        if not converted.is_file():
            lines = errors.decode(errors="replace").splitlines()
            detail = "; ".join(line for line in lines if line.strip() and "javaldx" not in line)[-300:]
            return Failed(
                f"LibreOffice could not read it as {conversion.suffix} (damaged, encrypted, or its filters "
                f"are missing: the Debian package {conversion.package}): {detail or 'no output'}"
            )
        return conversion.parser(converted.read_bytes(), fallback_title, options)
