"""File bytes to a `ParsedDocument` (a title and its sections), by file type, with well-kept parsers.

Failures of a file are values the pipeline records, never exceptions that escape: `Skipped` for content
freshrag does not index by design (unsupported type, no text), `Failed` for content it could not read, also
when its parser crashed or overran its time or memory limit: every parser runs in a parser process (see
`pool`), never in the process that serves other work. The one exception, `ParsingUnavailable`, says nothing
about the file (the service is stopping, or cannot start a parser process).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import PurePath

from freshrag.parsing.formats import FORMAT_NAMES, FORMATS, OCR_READER, Format, format_of
from freshrag.parsing.limits import ParseLimits
from freshrag.parsing.model import (
    Failed,
    ParsedDocument,
    ParseOptions,
    Parser,
    ParseResult,
    Section,
    Skipped,
)
from freshrag.parsing.pool import ParserPool, ParsingUnavailable
from freshrag.parsing.shared import shared_pool

PARSERS: dict[str, Parser] = {suffix: known.parser for suffix, known in FORMATS.items()}

__all__ = [
    "FORMATS",
    "FORMAT_NAMES",
    "PARSERS",
    "Failed",
    "Format",
    "ParseLimits",
    "ParseOptions",
    "ParseResult",
    "ParsedDocument",
    "Parser",
    "ParserPool",
    "ParsingUnavailable",
    "Section",
    "Skipped",
    "format_of",
    "parse_file",
    "shared_pool",
]


def parse_file(name: str, data: bytes, pool: ParserPool | None = None) -> ParseResult:
    """Parse a file's bytes by its extension, in a process of `pool` (default: `shared_pool()`). Never
    raises for bad content: returns `Skipped` or `Failed` with a reason a person understands. Raises
    `ParsingUnavailable` when the file could not be parsed for a reason that is not the file's."""
    known = format_of(name)
    if known is None:
        suffix = PurePath(name).suffix.lower()
        kind = f"'{suffix}' files" if suffix else "files without an extension"
        supported = ", ".join(sorted(FORMATS))
        return Skipped(f"unsupported file type: {kind} are not indexed (supported: {supported})")
    fallback_title = PurePath(name).stem
    result = (pool or shared_pool()).parse(known.parser, data, fallback_title)
    if isinstance(result, ParsedDocument) and not result.has_text():
        return Skipped("no extractable text (empty, whitespace only, or images without a text layer)")
    if isinstance(result, ParsedDocument):
        reader = f"{known.reader} + {OCR_READER}" if result.ocr_pages else known.reader
        result = replace(result, parser=f"{known.name}: {reader}")
    return result
