"""The prompt of an answer: the retrieved passages numbered from 1, best first, as many as fit the context
budget, then the question, in the shape the answer-style model was fine-tuned on
(`freshrag.training.openai_tuning.user_message`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from freshrag.search import SearchResult
from freshrag.training.openai_tuning import estimate_tokens, user_message


@dataclass(frozen=True)
class Prompt:
    messages: list[dict[str, str]]
    passages: list[SearchResult]  # passage n is passages[n - 1]


def passage_block(n: int, result: SearchResult) -> str:
    """One numbered passage: its number, title, heading path and version, then its text."""
    path = list(result.heading)
    if result.title and (not path or path[0] != result.title):  # a heading path often starts at the title
        path.insert(0, result.title)
    where = " > ".join(path)
    return f"[{n}] {where or result.uri} (version {result.version})\n{result.text.strip()}"


def build_prompt(
    question: str, results: Sequence[SearchResult], system_prompt: str, budget_tokens: int
) -> Prompt:
    """The chat messages for `question` over `results` (best first). Passages are added in rank order while
    their estimated tokens fit `budget_tokens`; one that does not fit ends the list, so a lower-ranked
    passage never displaces a better one. The best passage is always kept, cut to the budget if it alone
    exceeds it."""
    blocks: list[str] = []
    kept: list[SearchResult] = []
    used = 0
    for result in results:
        block = passage_block(len(kept) + 1, result)
        cost = estimate_tokens([{"content": block}])
        if used + cost > budget_tokens:
            if not kept:
                blocks.append(block[: budget_tokens * 3])  # estimate_tokens counts 3 bytes a token
                kept.append(result)
            break
        blocks.append(block)
        kept.append(result)
        used += cost
    messages = [
        {"role": "system", "content": system_prompt},
        {"role": "user", "content": user_message("\n\n".join(blocks), question)},
    ]
    return Prompt(messages, kept)


def model_only_prompt(question: str) -> list[dict[str, str]]:
    """The cascade's last resort: the question alone, the model told that no document holds it."""
    system = (
        "No document of this knowledge base holds the answer to the question. Answer from general "
        "knowledge if you can, briefly, and say that the answer does not come from the documents."
    )
    return [{"role": "system", "content": system}, {"role": "user", "content": question}]
