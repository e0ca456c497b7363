"""Citation checking: the answer cites passages as [n] (or [n, m]); numbers that name no passage of the
prompt are dropped from the text and counted, and the citations list holds the passages actually cited, in
the order the answer first cites them."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from freshrag.answers.model import Citation
from freshrag.search import SearchResult

# One to three digits: "[2023]" in an answer is a year, not a citation.
_MARKER = re.compile(r"\[(\d{1,3}(?:\s*,\s*\d{1,3})*)\]")


@dataclass(frozen=True)
class Checked:
    text: str
    citations: list[Citation]
    dropped: int


def check_citations(text: str, passages: Sequence[SearchResult]) -> Checked:
    """`text` with every citation number outside 1..len(passages) removed (a marker left empty goes
    whole), the passages cited, and how many numbers were dropped."""
    cited: dict[int, Citation] = {}
    dropped = 0

    def keep(match: re.Match[str]) -> str:
        nonlocal dropped
        numbers = [int(part) for part in match.group(1).split(",")]
        valid = [n for n in numbers if 1 <= n <= len(passages)]
        dropped += len(numbers) - len(valid)
        for n in valid:
            if n not in cited:
                cited[n] = citation(n, passages[n - 1])
        return f"[{', '.join(str(n) for n in valid)}]" if valid else ""

    cleaned = _MARKER.sub(keep, text)
    if dropped:
        cleaned = re.sub(r"[ \t]+([.,;:!?])", r"\1", re.sub(r"[ \t]{2,}", " ", cleaned)).strip()
    return Checked(cleaned, list(cited.values()), dropped)


def citation(n: int, result: SearchResult) -> Citation:
    return Citation(
        n=n,
        doc_id=result.doc_id,
        uri=result.uri,
        title=result.title,
        heading=list(result.heading),
        version=result.version,
        indexed_at=result.indexed_at,
    )
