"""The chat model behind answers: any OpenAI-compatible endpoint (OpenAI, vLLM, llama.cpp's server,
Ollama) through the `openai` client. Whatever goes wrong with it becomes a `ChatError` saying what and why,
which `POST /ask` answers as 504 (timeout), 503 (not configured) or 502 (the endpoint failed or answered
something that is not a chat completion)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any, Literal, Protocol

import openai

from freshrag.answers.model import Usage
from freshrag.settings import Settings
from freshrag.training.openai_tuning import describe_api_error

ChatFailure = Literal["timeout", "unavailable", "invalid", "unconfigured"]
STATUS_OF_FAILURE: dict[ChatFailure, int] = {
    "timeout": 504,
    "unconfigured": 503,
    "unavailable": 502,
    "invalid": 502,
}


class ChatError(RuntimeError):
    """The chat endpoint failed: `kind` says how (timeout, unavailable, invalid, unconfigured), the message
    says why."""

    def __init__(self, kind: ChatFailure, reason: str) -> None:
        super().__init__(reason)
        self.kind: ChatFailure = kind

    @property
    def status(self) -> int:
        return STATUS_OF_FAILURE[self.kind]


class ChatModel(Protocol):
    def chat(self, model: str, messages: list[dict[str, str]], *, stream: bool) -> Iterator[str | Usage]:
        """The answer's text, in pieces as written when `stream` (else in one), then its `Usage`; raises
        `ChatError`."""
        ...


class OpenAIChat:
    """A `ChatModel` over the `openai` client of FRESHRAG_OPENAI_BASE_URL, made at first use."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._client: openai.OpenAI | None = None
        self._lock = threading.Lock()

    def _openai(self) -> openai.OpenAI:
        with self._lock:
            if self._client is None:
                settings = self._settings
                if settings.openai_api_key is None and settings.openai_base_url is None:
                    raise ChatError(
                        "unconfigured",
                        "no answer model is configured: set FRESHRAG_OPENAI_BASE_URL (a local "
                        "OpenAI-compatible server) or FRESHRAG_OPENAI_API_KEY (OpenAI)",
                    )
                key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else "unused"
                self._client = openai.OpenAI(
                    api_key=key,
                    base_url=settings.openai_base_url,
                    timeout=settings.answer_timeout_seconds,
                    max_retries=1,
                )
            return self._client

    def chat(self, model: str, messages: list[dict[str, str]], *, stream: bool) -> Iterator[str | Usage]:
        client = self._openai()
        request: dict[str, Any] = {
            "model": model,
            "messages": messages,
            "max_tokens": self._settings.answer_max_tokens,
        }
        try:
            if stream:
                yield from _streamed(
                    client.chat.completions.create(
                        **request, stream=True, stream_options={"include_usage": True}
                    )
                )
            else:
                yield from _whole(client.chat.completions.create(**request))
        except ChatError:
            raise
        except openai.APITimeoutError as exc:
            raise ChatError(
                "timeout",
                f"{describe_api_error(exc)} (FRESHRAG_ANSWER_TIMEOUT_SECONDS is "
                f"{self._settings.answer_timeout_seconds:g})",
            ) from None
        except openai.APIResponseValidationError as exc:
            raise ChatError("invalid", f"unreadable answer from the chat endpoint: {exc.message}") from None
        except openai.APIError as exc:
            raise ChatError("unavailable", describe_api_error(exc)) from None
        except Exception as exc:  # a body that is not a chat completion, in whatever way
            raise ChatError(
                "invalid", f"unreadable answer from the chat endpoint: {type(exc).__name__}: {exc}"
            ) from None

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


def _whole(completion: Any) -> Iterator[str | Usage]:
    choices = getattr(completion, "choices", None)
    if not choices:
        raise ChatError("invalid", f"the chat endpoint answered no choices: {str(completion)[:200]!r}")
    content = choices[0].message.content
    if not isinstance(content, str) or not content.strip():
        raise ChatError("invalid", "the chat endpoint answered no text")
    yield content
    yield _usage(getattr(completion, "usage", None))


def _streamed(chunks: Any) -> Iterator[str | Usage]:
    usage = Usage()
    wrote = False
    for chunk in chunks:
        if getattr(chunk, "usage", None) is not None:
            usage = _usage(chunk.usage)
        for choice in chunk.choices or []:
            piece = choice.delta.content if choice.delta else None
            if piece:
                wrote = True
                yield piece
    if not wrote:
        raise ChatError("invalid", "the chat endpoint streamed no answer text")
    yield usage


def _usage(raw: Any) -> Usage:
    if raw is None:
        return Usage()
    return Usage(int(raw.prompt_tokens or 0), int(raw.completion_tokens or 0))
