"""File bytes to a `ParsedDocument` (a title and its sections), by file type, with well-kept parsers.

Failures are values the pipeline records, never exceptions that escape: `Skipped` for content freshrag does
not index by design (unsupported type, no text), `Failed` for content it could not read.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import PurePath

from freshrag.parsing.docx import parse_docx
from freshrag.parsing.html import parse_html
from freshrag.parsing.markdown import parse_markdown
from freshrag.parsing.model import Failed, ParsedDocument, ParseResult, Section, Skipped
from freshrag.parsing.pdf import parse_pdf
from freshrag.parsing.text import parse_text

Parser = Callable[[bytes, str], ParseResult]

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

__all__ = ["PARSERS", "Failed", "ParseResult", "ParsedDocument", "Section", "Skipped", "parse_file"]


def parse_file(name: str, data: bytes) -> ParseResult:
    """Parse a file's bytes by its extension. Never raises for bad content: returns `Skipped` or `Failed`
    with a reason a person understands."""
    suffix = PurePath(name).suffix.lower()
    parser = PARSERS.get(suffix)
    if parser is None:
        kind = f"'{suffix}' files" if suffix else "files without an extension"
        supported = ", ".join(sorted(PARSERS))
        return Skipped(f"unsupported file type: {kind} are not indexed (supported: {supported})")
    fallback_title = PurePath(name).stem
    try:
        result = parser(data, fallback_title)
    except Exception as exc:  # a parser bug or a hostile file must not stop the pipeline
        return Failed(f"could not parse {suffix} file: {type(exc).__name__}: {exc}")
    if isinstance(result, ParsedDocument) and not result.has_text():
        return Skipped("no extractable text (empty, whitespace only, or images without a text layer)")
    return result
