"""How much one file may cost its parser, and how many parser processes may run at once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from freshrag.settings import Settings


@dataclass(frozen=True)
class ParseLimits:
    """`timeout_seconds` of wall-clock time and `memory_mb` of address space (the whole parser process,
    about 60 MiB of it its code) per file; at most `workers` parser processes at once."""

    timeout_seconds: float
    memory_mb: int
    workers: int

    @classmethod
    def from_settings(cls, settings: Settings) -> ParseLimits:
        return cls(
            timeout_seconds=settings.parse_timeout_seconds,
            memory_mb=settings.parse_memory_mb,
            workers=settings.parse_workers,
        )

    @property
    def memory_bytes(self) -> int:
        return self.memory_mb * 1024 * 1024
