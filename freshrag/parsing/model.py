"""The parsers' common output, and the options every parser is handed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Section:
    """A run of text under one heading path (e.g. ("Install", "On Linux")); the unit chunks never cross."""

    heading: tuple[str, ...]
    text: str


@dataclass(frozen=True)
class ParsedDocument:
    """A file's text. `parser` names what read it (set by `parse_file`), `ocr_pages` how many of its pages
    OCR read, and `notes` what a reader should know about it (pages left unread, an attachment not read)."""

    title: str
    sections: list[Section] = field(default_factory=list)
    parser: str = ""
    ocr_pages: int = 0
    notes: tuple[str, ...] = ()

    def has_text(self) -> bool:
        return any(section.text.strip() for section in self.sections)


@dataclass(frozen=True)
class Skipped:
    """Content freshrag does not index by design; `reason` is shown to the user."""

    reason: str


@dataclass(frozen=True)
class Failed:
    """Content freshrag could not read; `reason` is shown to the user."""

    reason: str


@dataclass(frozen=True)
class ParseOptions:
    """What a parser may do beyond reading bytes: OCR with `ocr_languages` (Tesseract's codes joined by '+')
    at most `ocr_max_pages` pages of one file (0: no OCR), and spend at most `seconds` in external programs
    (OCR, converters), less than the parser process' own time limit so that they end first."""

    ocr_languages: str = "eng"
    ocr_max_pages: int = 20
    seconds: float = 50.0


ParseResult = ParsedDocument | Skipped | Failed
Parser = Callable[[bytes, str, ParseOptions], ParseResult]
"""A parser: the file's bytes, a fallback title (the file name's stem) and the options to its result."""
