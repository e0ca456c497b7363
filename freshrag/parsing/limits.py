"""How much one file may cost its parser, and how many parser processes may run at once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from freshrag.parsing.model import ParseOptions

if TYPE_CHECKING:
    from freshrag.settings import Settings

# External programs (OCR, converters) get this share of a parser's time limit, so that they end, and the
# parser reports why, before the pool stops the parser process.
_EXTERNAL_SHARE = 0.8


@dataclass(frozen=True)
class ParseLimits:
    """`timeout_seconds` of wall-clock time and `memory_mb` of address space (the whole parser process,
    about 60 MiB of it its code, plus the programs it runs) per file; at most `workers` parser processes at
    once; OCR in `ocr_languages` of at most `ocr_max_pages` pages per file."""

    timeout_seconds: float
    memory_mb: int
    workers: int
    ocr_languages: str = "eng"
    ocr_max_pages: int = 20

    @classmethod
    def from_settings(cls, settings: Settings) -> ParseLimits:
        return cls(
            timeout_seconds=settings.parse_timeout_seconds,
            memory_mb=settings.parse_memory_mb,
            workers=settings.parse_workers,
            ocr_languages=settings.ocr_languages,
            ocr_max_pages=settings.ocr_max_pages,
        )

    @property
    def memory_bytes(self) -> int:
        return self.memory_mb * 1024 * 1024

    @property
    def options(self) -> ParseOptions:
        """What each parser is handed."""
        return ParseOptions(
            ocr_languages=self.ocr_languages,
            ocr_max_pages=self.ocr_max_pages,
            seconds=self.timeout_seconds * _EXTERNAL_SHARE,
        )
