"""Sections to chunks whose boundaries survive local edits.

Two rules keep an edit's effect local, so that re-indexing re-embeds only what changed:
- chunks never cross a section (heading) boundary, so an edit in one section leaves every other section's
  chunks byte-identical;
- inside a long section, paragraphs are grouped with content-defined boundaries (a cut falls after a
  paragraph whose hash says so, once the chunk is big enough), the way rsync and deduplicating backups cut
  files, so an edit moves at most the boundaries next to it instead of every boundary after it.
Paragraphs longer than a chunk are split at sentence and word boundaries by semantic-text-splitter.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from semantic_text_splitter import TextSplitter

from freshrag.parsing import ParsedDocument, Section

TokenCounter = Callable[[str], int]

_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
# One paragraph in this many ends a chunk once the chunk has reached half its target size.
_ANCHOR_ONE_IN = 3
_MAX_PREFIX_TOKENS = 48


@dataclass(frozen=True)
class Chunk:
    """A passage of a document: `text` is what a search result shows, `embed_text` (title and heading path
    first) is what the model sees, and `key` identifies the passage by content."""

    text: str
    heading: tuple[str, ...]
    embed_text: str
    key: str


class Chunker:
    """Cuts parsed documents into chunks of at most `max_tokens` model tokens (prefix included).

    `tokenizer`, a Hugging Face `tokenizers.Tokenizer` counting exactly as `count_tokens` does, lets the
    splitter cut long paragraphs in Rust without the GIL (with a Python counter it holds the GIL for the
    whole cut: about a second per 300 KB, during which no search of the process can run); the chunks are
    the same either way."""

    def __init__(
        self,
        count_tokens: TokenCounter,
        max_tokens: int = 256,
        target_tokens: int = 160,
        *,
        tokenizer: Any | None = None,
    ) -> None:
        self._count = count_tokens
        self._tokenizer = tokenizer
        self._max = max_tokens
        self._target = min(target_tokens, max_tokens)
        self._splitters: dict[int, TextSplitter] = {}

    def chunk(self, document: ParsedDocument) -> list[Chunk]:
        """All chunks of `document`, in reading order; identical passages get distinct keys."""
        chunks: list[Chunk] = []
        seen: dict[str, int] = {}
        for section in document.sections:
            prefix = self._prefix(document.title, section.heading)
            budget = max(self._max - self._count(prefix) - 2, self._max // 2)
            for body in self._bodies(section, budget):
                embed_text = _joined(prefix, body)
                digest = hashlib.sha256(embed_text.encode()).hexdigest()
                occurrence = seen.get(digest, 0)
                seen[digest] = occurrence + 1
                key = digest if occurrence == 0 else f"{digest}#{occurrence}"
                chunks.append(Chunk(text=body, heading=section.heading, embed_text=embed_text, key=key))
        return chunks

    def embed_text(self, title: str, heading: tuple[str, ...], body: str) -> str:
        """What the model sees for a stored chunk (re-embedding needs the stored text, never the source)."""
        return _joined(self._prefix(title, heading), body)

    def _prefix(self, title: str, heading: tuple[str, ...]) -> str:
        parts = [title.strip()] if title.strip() else []
        path = " > ".join(h for h in heading if h != title)
        if path:
            parts.append(path)
        prefix = "\n".join(parts)
        if self._count(prefix) > _MAX_PREFIX_TOKENS:
            prefix = self._splitter(_MAX_PREFIX_TOKENS).chunks(prefix)[0]
        return prefix

    def _bodies(self, section: Section, budget: int) -> Iterator[str]:
        paragraphs = [p.strip() for p in _PARAGRAPH_BREAK.split(section.text) if p.strip()]
        pieces: list[tuple[str, int]] = []
        for paragraph in paragraphs:
            size = self._count(paragraph)
            if size <= budget:
                pieces.append((paragraph, size))
            else:
                pieces.extend((part, self._count(part)) for part in self._splitter(budget).chunks(paragraph))
        target = min(self._target, budget)
        group: list[str] = []
        group_size = 0
        for text, size in pieces:
            # +2 approximates the tokens of the blank line joining two paragraphs.
            if group and group_size + size + 2 > budget:
                yield "\n\n".join(group)
                group, group_size = [], 0
            group.append(text)
            group_size += size + 2
            if group_size >= target // 2 and (group_size >= target or _is_anchor(text)):
                yield "\n\n".join(group)
                group, group_size = [], 0
        if group:
            yield "\n\n".join(group)

    def _splitter(self, capacity: int) -> TextSplitter:
        splitter = self._splitters.get(capacity)
        if splitter is None:
            sizes = (max(capacity * 3 // 4, 1), capacity)
            splitter = (
                TextSplitter.from_huggingface_tokenizer(self._tokenizer, sizes)
                if self._tokenizer is not None
                else TextSplitter.from_callback(self._count, sizes)
            )
            self._splitters[capacity] = splitter
        return splitter


def _joined(prefix: str, body: str) -> str:
    return f"{prefix}\n\n{body}" if prefix else body


def _is_anchor(paragraph: str) -> bool:
    digest = hashlib.blake2b(paragraph.encode(), digest_size=4).digest()
    return int.from_bytes(digest) % _ANCHOR_ONE_IN == 0
