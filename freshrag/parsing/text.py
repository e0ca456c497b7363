"""Plain text: decoded whatever its encoding; one section (the chunker finds paragraph boundaries)."""

from __future__ import annotations

from freshrag.decoding import UndecodableError, decode_text
from freshrag.parsing.model import ParsedDocument, ParseOptions, ParseResult, Section, Skipped


def normalise_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def parse_text(data: bytes, fallback_title: str, options: ParseOptions) -> ParseResult:
    try:
        text = decode_text(data)
    except UndecodableError as exc:
        return Skipped(f"binary content: {exc}")
    return ParsedDocument(title=fallback_title, sections=[Section(heading=(), text=normalise_newlines(text))])
