"""The OpenAI fine-tuning backend: teaches a chat model the *answer style* users want (answer from the
retrieved context, cite the source), while the index keeps the *knowledge* fresh.

Curated examples (JSONL lines of question, answer and an optional context) become chat training examples
whose user turn carries the context the way the answer path will send it; an example without a context gets
one from the live index, so the model learns on the retrieval it will really see. The examples are checked
here against OpenAI's rules before anything leaves the machine, with every problem listed at once, because
OpenAI reports a bad file only after an upload and a queued job. Jobs run for minutes to hours at OpenAI:
`OpenAIFineTuner` starts, polls and cancels them, and reports each as a `JobState`.

Failures of the API become `OpenAIBackendError`, whose message names the endpoint and the status code.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import openai
from openai.types.fine_tuning import FineTuningJob

from freshrag.settings import Settings, SettingsError

MIN_EXAMPLES = 10  # OpenAI refuses a training file with fewer
CHAT_ROLES = ("system", "user", "assistant")
FINISHED_STATUSES = frozenset({"succeeded", "failed", "cancelled"})
TRAINING_FILE_NAME = "freshrag-train.jsonl"
EVENTS_SHOWN = 20
DEFAULT_MAX_EXAMPLE_TOKENS = 65_536
_CURATED_FIELDS = ("question", "answer", "context")
_T = TypeVar("_T")


class ExamplesError(ValueError):
    """Training examples freshrag will not send; the message lists every problem with its line."""


class OpenAIBackendError(RuntimeError):
    """The OpenAI API refused a request or could not be reached; the message names the endpoint and the
    status code."""


def openai_client(settings: Settings) -> openai.OpenAI:
    """A client of the configured endpoint; raises `SettingsError` when no API key is set."""
    if settings.openai_api_key is None:
        raise SettingsError("FRESHRAG_OPENAI_API_KEY is not set: the OpenAI backend needs an API key")
    return openai.OpenAI(
        api_key=settings.openai_api_key.get_secret_value(),
        base_url=settings.openai_base_url,
        max_retries=2,
        timeout=60.0,
    )


@dataclass(frozen=True)
class Curated:
    """One curated answer. Without `context`, the live index supplies it when the examples are built."""

    question: str
    answer: str
    context: str | None = None


def read_curated(path: Path) -> list[Curated]:
    """The curated examples of a JSONL file; raises `ExamplesError` naming the file and each bad line."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ExamplesError(f"{path}: cannot read the curated examples: {exc}") from exc
    return parse_curated(text.splitlines(), str(path))


def parse_curated(lines: Iterable[str], source: str) -> list[Curated]:
    """The curated examples of JSONL `lines` (blank ones skipped); raises `ExamplesError` listing every bad
    line as `source:line: problem`."""
    curated: list[Curated] = []
    problems: list[str] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            curated.append(_curated_line(line))
        except ValueError as exc:
            problems.append(f"{source}:{number}: {exc}")
    if problems:
        raise ExamplesError("invalid curated examples:\n  " + "\n  ".join(problems))
    return curated


def _curated_line(line: str) -> Curated:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(record, dict):
        raise ValueError('not a JSON object with "question" and "answer"')
    unknown = sorted(set(record) - set(_CURATED_FIELDS))
    if unknown:
        raise ValueError(f'unknown field "{unknown[0]}" (known: question, answer, context)')
    context = record.get("context")
    if context is not None and not _is_text(context):
        raise ValueError('field "context" must be a non-empty string, or left out to retrieve it')
    return Curated(_required_text(record, "question"), _required_text(record, "answer"), context)


def _required_text(record: Mapping[str, Any], name: str) -> str:
    if name not in record:
        raise ValueError(f'field "{name}" is missing')
    value = record[name]
    if not _is_text(value):
        raise ValueError(f'field "{name}" must be a non-empty string')
    return str(value)


def _is_text(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip())


def build_chat_examples(
    curated: Iterable[Curated], system_prompt: str, retrieve: Callable[[str], str]
) -> list[dict[str, Any]]:
    """One chat training example per curated answer; `retrieve(question)` supplies a missing context."""
    return [_chat_example(item, system_prompt, retrieve) for item in curated]


def _chat_example(item: Curated, system_prompt: str, retrieve: Callable[[str], str]) -> dict[str, Any]:
    context = item.context if item.context is not None else retrieve(item.question)
    return {
        "messages": [
            {"role": "system", "content": system_prompt},
            {"role": "user", "content": user_message(context, item.question)},
            {"role": "assistant", "content": item.answer},
        ]
    }


def user_message(context: str, question: str) -> str:
    """The user turn as the answer path sends it: the retrieved context, then the question."""
    return f"Context:\n{context}\n\nQuestion: {question}"


def validate_chat_examples(examples: Sequence[Mapping[str, Any]], max_tokens: int) -> None:
    """Raise `ExamplesError` listing every reason OpenAI would refuse `examples` (each prefixed with the
    example's 1-based line in the training file), or one of more than `max_tokens` estimated tokens."""
    problems: list[str] = []
    if len(examples) < MIN_EXAMPLES:
        problems.append(f"{len(examples)} examples: OpenAI needs at least {MIN_EXAMPLES}")
    for line, example in enumerate(examples, start=1):
        problems.extend(f"line {line}: {problem}" for problem in example_problems(example, max_tokens))
    if problems:
        raise ExamplesError("the training examples are not valid:\n  " + "\n  ".join(problems))


def example_problems(example: Mapping[str, Any], max_tokens: int) -> list[str]:
    """What is wrong with one chat training example; empty when nothing is."""
    messages = example.get("messages") if isinstance(example, Mapping) else None
    if not isinstance(messages, list) or not messages:
        return ['"messages" must be a non-empty list']
    problems = [problem for index, message in enumerate(messages, 1) for problem in _problems(index, message)]
    if not any(isinstance(message, Mapping) and message.get("role") == "assistant" for message in messages):
        problems.append("no assistant message (the answer to learn)")
    tokens = estimate_tokens(messages)
    if tokens > max_tokens:
        problems.append(
            f"about {tokens} tokens (estimated), more than the limit of {max_tokens} "
            "(FRESHRAG_OPENAI_MAX_EXAMPLE_TOKENS)"
        )
    return problems


def _problems(index: int, message: object) -> list[str]:
    if not isinstance(message, Mapping):
        return [f"message {index} is not an object"]
    role = message.get("role")
    problems = []
    if role in ("tool", "function"):
        problems.append(
            f"message {index}: role {role!r} is not supported: answer style is trained on plain chat "
            "(system, user, assistant)"
        )
    elif role not in CHAT_ROLES:
        problems.append(f"message {index}: unknown role {role!r} (allowed: system, user, assistant)")
    if not _is_text(message.get("content")):
        problems.append(f"message {index} ({role}): content must be a non-empty string")
    return problems


def estimate_tokens(messages: Iterable[object]) -> int:
    """A conservative token count of chat messages: a token per 3 UTF-8 bytes of each content, rounded up,
    plus 4 per message for its role and separators.

    No tokenizer of OpenAI's models works offline (tiktoken downloads its files). English averages about 4
    bytes per token, so this over-estimates it by about a third: an example it accepts fits OpenAI's limit.
    """
    total = 0
    for message in messages:
        content = message.get("content") if isinstance(message, Mapping) else None
        size = len(content.encode("utf-8")) if isinstance(content, str) else 0
        total += math.ceil(size / 3) + 4
    return total


def to_jsonl(examples: Iterable[Mapping[str, Any]]) -> bytes:
    """The training file: one JSON object per line, UTF-8."""
    return b"".join(json.dumps(example, ensure_ascii=False).encode("utf-8") + b"\n" for example in examples)


@dataclass(frozen=True)
class JobState:
    """A fine-tuning job as OpenAI last reported it. `status` is OpenAI's: validating_files, queued, running,
    succeeded, failed or cancelled; `events` are the newest messages of the job, newest first."""

    job_id: str
    status: str
    fine_tuned_model: str | None = None
    training_file: str | None = None
    error: str | None = None
    trained_tokens: int | None = None
    events: list[str] = field(default_factory=list)

    @property
    def finished(self) -> bool:
        return self.status in FINISHED_STATUSES

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "finished": self.finished}


def job_state(job: FineTuningJob, events: list[str] | None = None) -> JobState:
    """The `JobState` of an OpenAI job object."""
    return JobState(
        job_id=job.id,
        status=job.status,
        fine_tuned_model=job.fine_tuned_model,
        training_file=job.training_file,
        error=job.error.message if job.error is not None else None,
        trained_tokens=job.trained_tokens,
        events=events or [],
    )


class OpenAIFineTuner:
    """Starts, polls and cancels OpenAI fine-tuning jobs of `base_model` on chat examples. Invalid examples
    raise `ExamplesError` before any request; every API failure raises `OpenAIBackendError`."""

    def __init__(
        self,
        client: openai.OpenAI,
        base_model: str,
        suffix: str = "freshrag",
        *,
        max_example_tokens: int = DEFAULT_MAX_EXAMPLE_TOKENS,
    ) -> None:
        self._client = client
        self._base_model = base_model
        self._suffix = suffix
        self._max_example_tokens = max_example_tokens

    def start(self, examples: list[dict[str, Any]]) -> JobState:
        """Validate the examples, upload them as the training file and create the job."""
        validate_chat_examples(examples, self._max_example_tokens)
        data = to_jsonl(examples)
        uploaded = _call(
            lambda: self._client.files.create(file=(TRAINING_FILE_NAME, data), purpose="fine-tune")
        )
        job = _call(
            lambda: self._client.fine_tuning.jobs.create(
                model=self._base_model, training_file=uploaded.id, suffix=self._suffix
            )
        )
        return job_state(job)

    def poll(self, job_id: str) -> JobState:
        """The job's current state with its newest events."""
        job = _call(lambda: self._client.fine_tuning.jobs.retrieve(job_id))
        # One page only: iterating the page would fetch the job's whole history.
        page = _call(lambda: self._client.fine_tuning.jobs.list_events(job_id, limit=EVENTS_SHOWN))
        return job_state(job, [event.message for event in page.data])

    def cancel(self, job_id: str) -> JobState:
        """Cancel the job; OpenAI refuses (an `OpenAIBackendError`) when it has already finished."""
        return job_state(_call(lambda: self._client.fine_tuning.jobs.cancel(job_id)))


def _call(request: Callable[[], _T]) -> _T:
    try:
        return request()
    except openai.APIError as exc:
        raise OpenAIBackendError(describe_api_error(exc)) from exc


def describe_api_error(exc: openai.APIError) -> str:
    """A one-line account of a failed API call: the endpoint, then the status code and OpenAI's message, or
    why no answer came."""
    endpoint = f"{exc.request.method} {exc.request.url}"
    if isinstance(exc, openai.APIStatusError):
        hint = " (check FRESHRAG_OPENAI_API_KEY)" if exc.status_code == 401 else ""
        return f"OpenAI {endpoint} answered {exc.status_code}: {_error_message(exc)}{hint}"
    if isinstance(exc, openai.APIConnectionError):
        return f"OpenAI {endpoint}: no answer ({exc.message}); check FRESHRAG_OPENAI_BASE_URL and the network"
    return f"OpenAI {endpoint}: {exc.message}"


def _error_message(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, Mapping) and isinstance(body.get("message"), str):
        return str(body["message"])
    return exc.message
