"""Answering a question: choose the route, retrieve with the live search, refuse without calling the model
when the best passage is too weak, else prompt the model with the numbered passages and keep the citations
that name one. Every answer, whatever its outcome, is counted by route and outcome and written to the
answers log (the status page's "Latest answers")."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from freshrag.answers.chat import ChatError, ChatModel, OpenAIChat
from freshrag.answers.citations import check_citations
from freshrag.answers.model import (
    MAX_QUESTION_CHARS,
    Answer,
    AskRequest,
    Citation,
    Done,
    Event,
    Outcome,
    QuestionError,
    Restart,
    Route,
    Token,
    Usage,
)
from freshrag.answers.prompt import build_prompt, model_only_prompt
from freshrag.answers.routes import Chosen, choose_route
from freshrag.retrieval import parse_mode
from freshrag.search import SearchService
from freshrag.settings import Settings
from freshrag.state.registry import Backend, Registry
from freshrag.telemetry import Metrics

log = logging.getLogger(__name__)
QUESTION_LOGGED_CHARS = 200


@dataclass
class _Run:
    """What one answer accumulates on its way: timings, the models called and their token usage."""

    chosen: Chosen
    started: float
    retrieval_s: float = 0.0
    generation_s: float = 0.0
    usage: Usage = field(default_factory=Usage)
    model: str | None = None


class AnswerService:
    """Answers questions from the live index. `fine_tuned_model()` names the live fine-tuned answer-style
    model (None while there is none); `record(entry)` writes one entry of the answers log."""

    def __init__(
        self,
        settings: Settings,
        search: SearchService,
        chat: ChatModel,
        metrics: Metrics,
        fine_tuned_model: Callable[[], str | None],
        record: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self._settings = settings
        self._search = search
        self._chat = chat
        self._metrics = metrics
        self._fine_tuned_model = fine_tuned_model
        self._record = record

    def ask(self, request: AskRequest) -> Answer:
        """The whole answer at once; raises `ChatError`, `QuestionError`, `UnknownRouteError` or
        `RetrievalError`/`ValueError` (mode, filter) naming the field."""
        for event in self.events(request, stream=False):
            if isinstance(event, Done):
                return event.answer
        raise AssertionError("an answer always ends with Done")

    def events(self, request: AskRequest, *, stream: bool) -> Iterator[Event]:
        """The answer as it is written: `Token`s (one per piece the model sends when `stream`, else one),
        a `Restart` if the cascade starts over from the model alone, then `Done` with the answer."""
        started = time.perf_counter()
        settings = self._settings
        if not request.question.strip() or len(request.question) > MAX_QUESTION_CHARS:
            raise QuestionError(f"question: 1 to {MAX_QUESTION_CHARS} characters, not blank")
        fine_tuned = self._fine_tuned_model()
        chosen = choose_route(request, settings.answer_route, settings.answer_routes, fine_tuned is not None)
        found = self._search.search(
            request.question,
            request.k,
            request.filter,
            mode=parse_mode(request.mode) if request.mode else None,
            record=True,
            gap_below=settings.answer_min_score,
        )
        run = _Run(chosen, started, retrieval_s=time.perf_counter() - started)
        self._metrics.ask_seconds.labels("retrieval").observe(run.retrieval_s)
        model = settings.answer_model if chosen.route is Route.RAG else fine_tuned or settings.answer_model
        fallback = chosen.route is Route.CASCADE and settings.answer_fallback
        top = max((result.similarity for result in found.results), default=None)
        try:
            if top is None or top < settings.answer_min_score:
                if fallback:
                    yield from self._model_alone(run, request.question, model, stream)
                    return
                yield Token(settings.answer_no_information)
                yield Done(
                    self._finish(run, request, settings.answer_no_information, [], Outcome.NO_INFORMATION)
                )
                return
            system = settings.answer_system_prompt.replace("{no_information}", settings.answer_no_information)
            prompt = build_prompt(request.question, found.results, system, settings.answer_context_tokens)
            text = yield from self._generate(run, model, prompt.messages, stream)
            if says_no_information(text, settings.answer_no_information):
                if fallback:
                    yield Restart("the passages do not hold the answer; answering from the model alone")
                    yield from self._model_alone(run, request.question, model, stream)
                    return
                answer = self._finish(
                    run, request, settings.answer_no_information, [], Outcome.NO_INFORMATION
                )
                yield Done(answer)
                return
            checked = check_citations(text, prompt.passages)
            yield Done(
                self._finish(run, request, checked.text, checked.citations, Outcome.ANSWERED, checked.dropped)
            )
        except ChatError as exc:
            self._finish(run, request, "", [], Outcome.LLM_ERROR, reason=str(exc))
            raise

    def _model_alone(self, run: _Run, question: str, model: str, stream: bool) -> Iterator[Event]:
        text = yield from self._generate(run, model, model_only_prompt(question), stream)
        yield Done(self._finish(run, AskRequest(question), text.strip(), [], Outcome.FALLBACK))

    def _generate(
        self, run: _Run, model: str, messages: list[dict[str, str]], stream: bool
    ) -> Generator[Event, None, str]:
        began = time.perf_counter()
        run.model = model
        pieces: list[str] = []
        try:
            for piece in self._chat.chat(model, messages, stream=stream):
                if isinstance(piece, Usage):
                    run.usage = run.usage + piece
                    self._count_tokens(model, piece)
                else:
                    pieces.append(piece)
                    yield Token(piece)
        finally:
            run.generation_s += time.perf_counter() - began
        return "".join(pieces)

    def _count_tokens(self, model: str, usage: Usage) -> None:
        self._metrics.ask_tokens.labels(model, "prompt").inc(usage.prompt_tokens)
        self._metrics.ask_tokens.labels(model, "completion").inc(usage.completion_tokens)

    def _finish(
        self,
        run: _Run,
        request: AskRequest,
        text: str,
        citations: list[Citation],
        outcome: Outcome,
        dropped: int = 0,
        reason: str | None = None,
    ) -> Answer:
        total = time.perf_counter() - run.started
        metrics = self._metrics
        metrics.ask_total.labels(run.chosen.route.value, outcome.value).inc()
        metrics.ask_seconds.labels("total").observe(total)
        if run.model is not None:
            metrics.ask_seconds.labels("generation").observe(run.generation_s)
        if dropped:
            metrics.ask_citations_dropped.inc(dropped)
        answer = Answer(
            answer=text,
            citations=citations,
            grounded=outcome is not Outcome.FALLBACK,
            model=run.model,
            route=run.chosen.route,
            outcome=outcome,
            retrieval_ms=round(run.retrieval_s * 1000, 2),
            generation_ms=round(run.generation_s * 1000, 2),
            usage=run.usage,
            dropped_citations=dropped,
            routed_by=run.chosen.rule,
        )
        if self._record is not None:
            self._record(log_entry(answer, request.question, round(total * 1000, 2), reason))
        return answer


def log_entry(answer: Answer, question: str, total_ms: float, reason: str | None) -> dict[str, Any]:
    """One entry of the answers log: what the status page and `freshrag advise` read."""
    return {
        "at": time.time(),
        "question": question[:QUESTION_LOGGED_CHARS],
        "route": answer.route.value,
        "outcome": answer.outcome.value,
        "grounded": answer.grounded,
        "model": answer.model,
        "citations": len(answer.citations),
        "dropped_citations": answer.dropped_citations,
        "total_ms": total_ms,
        "prompt_tokens": answer.usage.prompt_tokens,
        "completion_tokens": answer.usage.completion_tokens,
        "reason": reason,
    }


def says_no_information(text: str, phrase: str) -> bool:
    """Whether the model's answer is the no-information sentence (give or take quotes, case, punctuation
    and a citation marker), not an answer that merely mentions it."""
    said, meant = _words(text), _words(phrase)
    return bool(meant) and meant in said and len(said) <= len(meant) + 40


def _words(text: str) -> str:
    text = text.replace("\u2019", "'").lower()
    return " ".join(re.sub(r"\[[\d,\s]*\]|[^\w' ]", " ", text).split())


class AnswerSources(Protocol):
    """What the answer service is built from."""

    @property
    def settings(self) -> Settings: ...

    @property
    def search(self) -> SearchService: ...

    @property
    def metrics(self) -> Metrics: ...

    @property
    def registry(self) -> Registry: ...


def build_answer_service(services: AnswerSources, chat: ChatModel | None = None) -> AnswerService:
    """The answer service of a process, over its runtime's search, metrics, registry and activity log."""

    def fine_tuned_model() -> str | None:
        live = services.registry.live(Backend.OPENAI)
        return live.fine_tuned_model if live is not None else None

    return AnswerService(
        services.settings,
        services.search,
        chat or OpenAIChat(services.settings),
        services.metrics,
        fine_tuned_model,
        services.search.activity.answered if services.search.activity is not None else None,
    )
