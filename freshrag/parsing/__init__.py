"""File bytes to a `ParsedDocument` (a title and its sections), by file type, with well-kept parsers.

Failures of a file are values the pipeline records, never exceptions that escape: `Skipped` for content
freshrag does not index by design (unsupported type, no text), `Failed` for content it could not read, also
when its parser crashed or overran its time or memory limit: every parser runs in a parser process (see
`pool`), never in the process that serves other work. The one exception, `ParsingUnavailable`, says nothing
about the file (the service is stopping, or cannot start a parser process).
"""

from __future__ import annotations

from pathlib import PurePath

from freshrag.parsing.docx import parse_docx
from freshrag.parsing.html import parse_html
from freshrag.parsing.limits import ParseLimits
from freshrag.parsing.markdown import parse_markdown
from freshrag.parsing.model import Failed, ParsedDocument, Parser, ParseResult, Section, Skipped
from freshrag.parsing.pdf import parse_pdf
from freshrag.parsing.pool import ParserPool, ParsingUnavailable
from freshrag.parsing.shared import shared_pool
from freshrag.parsing.text import parse_text

PARSERS: dict[str, Parser] = {
    ".md": parse_markdown,
    ".markdown": parse_markdown,
    ".txt": parse_text,
    ".text": parse_text,
    ".rst": parse_text,
    ".org": parse_text,
    ".adoc": parse_text,
    ".html": parse_html,
    ".htm": parse_html,
    ".xhtml": parse_html,
    ".pdf": parse_pdf,
    ".docx": parse_docx,
}

__all__ = [
    "PARSERS",
    "Failed",
    "ParseLimits",
    "ParseResult",
    "ParsedDocument",
    "Parser",
    "ParserPool",
    "ParsingUnavailable",
    "Section",
    "Skipped",
    "parse_file",
    "shared_pool",
]


def parse_file(name: str, data: bytes, pool: ParserPool | None = None) -> ParseResult:
    """Parse a file's bytes by its extension, in a process of `pool` (default: `shared_pool()`). Never
    raises for bad content: returns `Skipped` or `Failed` with a reason a person understands. Raises
    `ParsingUnavailable` when the file could not be parsed for a reason that is not the file's."""
    suffix = PurePath(name).suffix.lower()
    parser = PARSERS.get(suffix)
    if parser is None:
        kind = f"'{suffix}' files" if suffix else "files without an extension"
        supported = ", ".join(sorted(PARSERS))
        return Skipped(f"unsupported file type: {kind} are not indexed (supported: {supported})")
    fallback_title = PurePath(name).stem
    result = (pool or shared_pool()).parse(parser, data, fallback_title)
    if isinstance(result, ParsedDocument) and not result.has_text():
        return Skipped("no extractable text (empty, whitespace only, or images without a text layer)")
    return result
