"""The parsers' common output."""

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
    title: str
    sections: list[Section] = field(default_factory=list)

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


ParseResult = ParsedDocument | Skipped | Failed
Parser = Callable[[bytes, str], ParseResult]
"""A parser: the file's bytes and a fallback title (the file name's stem) to its result."""
