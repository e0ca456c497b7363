"""What an answer is made of: the question asked, the route taken, the answer with its citations, and the
events a streamed answer is delivered as."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

MAX_QUESTION_CHARS = 4096


class QuestionError(ValueError):
    """A question that cannot be asked; the message names the field `question`."""


class Route(StrEnum):
    """How a question is answered (article 003's patterns): `rag` the base model with retrieved passages;
    `hybrid` the fine-tuned answer-style model with retrieved passages (pattern 1); `cascade` retrieval first,
    the model alone only when retrieval holds nothing and FRESHRAG_ANSWER_FALLBACK allows it (pattern 4).
    The router (pattern 3) picks one of them by the rules of FRESHRAG_ANSWER_ROUTES."""

    RAG = "rag"
    HYBRID = "hybrid"
    CASCADE = "cascade"


class Outcome(StrEnum):
    ANSWERED = "answered"
    NO_INFORMATION = "no_information"  # the passages hold nothing: said so, often without calling the model
    FALLBACK = "fallback"  # the cascade answered from the model alone (grounded: false)
    LLM_ERROR = "llm_error"  # the chat endpoint failed, timed out or answered garbage


@dataclass(frozen=True)
class AskRequest:
    question: str
    k: int = 5
    mode: str | None = None  # dense, keyword or hybrid; None: the live mode
    filter: dict[str, str] | None = None
    route: str | None = None  # rag, hybrid, cascade; None or "auto": the router, then the default


@dataclass(frozen=True)
class Citation:
    """A passage the answer cites by its number `n`, and the document version it was read from."""

    n: int
    doc_id: str
    uri: str
    title: str
    heading: list[str]
    version: int
    indexed_at: float | None


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.prompt_tokens + other.prompt_tokens, self.completion_tokens + other.completion_tokens
        )


@dataclass(frozen=True)
class Answer:
    answer: str
    citations: list[Citation]
    grounded: bool  # false only for the cascade's answer from the model alone
    model: str | None  # None when no model was called
    route: Route
    outcome: Outcome
    retrieval_ms: float
    generation_ms: float
    usage: Usage = field(default_factory=Usage)
    dropped_citations: int = 0  # citation numbers the model wrote that name no passage
    routed_by: int | None = None  # the index of the router rule that chose the route, if one did

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Token:
    """A piece of the answer as the model writes it (streaming)."""

    text: str


@dataclass(frozen=True)
class Restart:
    """The text streamed so far is withdrawn: the cascade answers again from the model alone."""

    reason: str


@dataclass(frozen=True)
class Done:
    answer: Answer


Event = Token | Restart | Done
