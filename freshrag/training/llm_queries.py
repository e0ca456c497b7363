"""Training queries written by an LLM: for a passage of the index, a chat model writes the questions it
answers, and each (question, passage) becomes a training pair of the embedding model.

Feedback comes slowly and covers the documents people already find; questions written for passages drawn
from the index cover the rest, in the words of a question rather than of the passage. A passage whose call
fails is logged and left out: the training run goes on with the pairs it has.
"""

from __future__ import annotations

import logging
import re

import openai

from freshrag.training.openai_tuning import describe_api_error

log = logging.getLogger(__name__)

QUESTION_PROMPT = (
    "You write search queries for a retrieval system. The user sends a passage. Write {count} different "
    "question(s) that a person could ask and that the passage answers, in the language of the passage. "
    "Write one question per line and nothing else: no numbering, no quotes, no explanation."
)
MAX_QUESTION_CHARS = 300
# "1. ", "2) ", "- ", "* ", "Q: ", "Question 2: " (or several) starting a line: list formatting
# (the space after it keeps "3.5 inch drives?" whole).
_NUMBERING = re.compile(r"^\s*(?:(?:\d+[.):]|[-*•]|q(?:uestion)?\s*\d*[:.])\s+)+", re.IGNORECASE)
_QUOTES = "\"'“”‘’«»`"


def write_queries(
    client: openai.OpenAI, model: str, passages: list[str], *, per_passage: int = 1
) -> list[tuple[str, str]]:
    """(question, passage) pairs: up to `per_passage` questions written by `model` for each passage. A
    passage whose call fails is logged as a warning and skipped; this never raises for an API failure."""
    pairs: list[tuple[str, str]] = []
    for passage in passages:
        pairs.extend((question, passage) for question in _questions_for(client, model, passage, per_passage))
    return pairs


def _questions_for(client: openai.OpenAI, model: str, passage: str, count: int) -> list[str]:
    try:
        completion = client.chat.completions.create(
            model=model,
            messages=[
                {"role": "system", "content": QUESTION_PROMPT.format(count=count)},
                {"role": "user", "content": passage},
            ],
        )
    except openai.APIError as exc:
        log.warning("no question written for the passage %r: %s", passage[:60], describe_api_error(exc))
        return []
    text = completion.choices[0].message.content if completion.choices else None
    questions = parse_questions(text or "")[:count]
    if not questions:
        log.warning("no question written for the passage %r: the answer held none", passage[:60])
    return questions


def parse_questions(text: str) -> list[str]:
    """The questions of a model's answer, one a line: numbering and quotes stripped, empty lines, repeats
    and lines longer than `MAX_QUESTION_CHARS` dropped."""
    questions: list[str] = []
    for line in text.splitlines():
        question = _NUMBERING.sub("", line).strip().strip(_QUOTES).strip()
        if question and len(question) <= MAX_QUESTION_CHARS and question not in questions:
            questions.append(question)
    return questions
