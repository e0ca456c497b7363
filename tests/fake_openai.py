"""A local stand-in for the OpenAI API, for tests: the endpoints freshrag's OpenAI backend calls, with
in-memory state, served over real HTTP so that the real `openai` client talks to it.

- `POST /v1/files` (multipart) stores the upload; `POST /v1/fine_tuning/jobs` creates a job of a stored file,
  which it validates like OpenAI does (a bad line fails the job while its files are validated);
- each `GET /v1/fine_tuning/jobs/{id}` moves the job one step: validating_files, queued, running,
  succeeded (or failed); `GET .../events` lists its events newest first; `POST .../cancel` cancels it;
- `POST /v1/chat/completions` answers with `chat_reply(messages)`, by default a question about the last user
  message (what LLM-written queries need); `answer_from_passages` answers like an answer model, citing
  passage [1]. With `"stream": true` it sends server-sent chunks (`stream_pause` seconds apart) and a last
  chunk with the usage. `chat_delay` makes it slow, `chat_raw` makes it answer that body instead (garbage);
  `stream_garbage_after` breaks a stream after that many chunks; `chat_bodies` keeps every request body;
- a request without the server's API key as bearer token gets 401; `fail_requests` makes chosen requests
  fail with a status, to test what the caller does then.

`requests` logs (method, path) of every request received, in order.
"""

from __future__ import annotations

import contextlib
import email.parser
import email.policy
import itertools
import json
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

NEXT_STATUS = {"validating_files": "queued", "queued": "running", "running": "succeeded"}
FINISHED = ("succeeded", "failed", "cancelled")
ROLES = ("system", "user", "assistant")
N_EPOCHS = 3
Json = dict[str, Any]


class ApiError(Exception):
    """An error answer, with OpenAI's error object."""

    def __init__(self, status: int, message: str, *, code: str | None = None, param: str | None = None):
        super().__init__(message)
        self.status = status
        self.body: Json = {
            "error": {
                "message": message,
                "type": "server_error" if status >= 500 else "invalid_request_error",
                "param": param,
                "code": code,
            }
        }


@dataclass
class StoredFile:
    id: str
    filename: str
    purpose: str
    data: bytes
    created_at: int

    def to_json(self) -> Json:
        return {
            "id": self.id,
            "object": "file",
            "bytes": len(self.data),
            "created_at": self.created_at,
            "filename": self.filename,
            "purpose": self.purpose,
            "status": "processed",
        }


@dataclass
class FakeJob:
    id: str
    model: str
    training_file: str
    suffix: str | None
    created_at: int
    problem: str | None  # why OpenAI's validation of the training file fails, if it does
    tokens: int
    status: str = "validating_files"
    fine_tuned_model: str | None = None
    trained_tokens: int | None = None
    finished_at: int | None = None
    events: list[Json] = field(default_factory=list)  # oldest first

    def to_json(self) -> Json:
        failed = self.status == "failed"
        error = {"code": "invalid_training_file", "message": self.problem, "param": "training_file"}
        hyperparameters = {"batch_size": 1, "learning_rate_multiplier": 1.8, "n_epochs": N_EPOCHS}
        return {
            "id": self.id,
            "object": "fine_tuning.job",
            "created_at": self.created_at,
            "error": error if failed else None,
            "fine_tuned_model": self.fine_tuned_model,
            "finished_at": self.finished_at,
            "hyperparameters": hyperparameters,
            "model": self.model,
            "organization_id": "org-freshrag",
            "result_files": [],
            "seed": 42,
            "status": self.status,
            "trained_tokens": self.trained_tokens,
            "training_file": self.training_file,
            "validation_file": None,
            "estimated_finish": None,
            "integrations": [],
            "metadata": None,
            "method": {"type": "supervised", "supervised": {"hyperparameters": hyperparameters}},
            "user_provided_suffix": self.suffix,
        }


@dataclass(frozen=True)
class Failure:
    path: str
    containing: str
    status: int


class FakeOpenAI:
    """The state and the routes of the fake API; `fake_openai()` serves it."""

    def __init__(self, api_key: str) -> None:
        self.api_key = api_key
        self.base_url = ""
        self.files: dict[str, StoredFile] = {}
        self.jobs: dict[str, FakeJob] = {}
        self.requests: list[tuple[str, str]] = []
        self._failures: list[Failure] = []
        self.chat_reply: Callable[[list[Json]], str] = ask_about_last_message
        self.chat_delay = 0.0
        self.stream_pause = 0.0
        self.chat_raw: bytes | None = None
        self.stream_garbage_after: int | None = None
        self.chat_bodies: list[Json] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._routes: list[tuple[str, re.Pattern[str], Callable[..., Any]]] = [
            ("POST", re.compile(r"/v1/files"), self._create_file),
            ("POST", re.compile(r"/v1/fine_tuning/jobs"), self._create_job),
            ("GET", re.compile(r"/v1/fine_tuning/jobs/(?P<job_id>[^/]+)"), self._retrieve_job),
            ("GET", re.compile(r"/v1/fine_tuning/jobs/(?P<job_id>[^/]+)/events"), self._list_events),
            ("POST", re.compile(r"/v1/fine_tuning/jobs/(?P<job_id>[^/]+)/cancel"), self._cancel_job),
            ("POST", re.compile(r"/v1/chat/completions"), self._chat),
        ]

    def fail_requests(self, path: str, *, containing: str = "", status: int = 500) -> None:
        """Answer `status` to every later request to `path` (e.g. "/v1/chat/completions") whose body
        contains `containing`."""
        with self._lock:
            self._failures.append(Failure(path, containing, status))

    def calls(self, method: str, path: str) -> int:
        return self.requests.count((method, path))

    def handle(self, request: Request) -> tuple[int, Json | bytes | Iterator[bytes]]:
        if request.path == "/v1/chat/completions" and self.chat_delay:
            time.sleep(self.chat_delay)  # outside the lock: other requests go on
        with self._lock:
            self.requests.append((request.method, request.path))
            try:
                return 200, self._answer(request)
            except ApiError as exc:
                return exc.status, exc.body

    def _answer(self, request: Request) -> Json | bytes | Iterator[bytes]:
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            raise ApiError(401, "Incorrect API key provided.", code="invalid_api_key")
        for failure in self._failures:
            if failure.path == request.path and failure.containing in request.text:
                raise ApiError(failure.status, f"The server had an error ({failure.status}, on demand).")
        for method, pattern, route in self._routes:
            match = pattern.fullmatch(request.path)
            if match and method == request.method:
                answer: Json | bytes | Iterator[bytes] = route(request, **match.groupdict())
                return answer
        raise ApiError(404, f"Unknown request URL: {request.method} {request.path}.", code="unknown_url")

    def _next_id(self, prefix: str) -> str:
        return f"{prefix}-{next(self._ids):06d}"

    def _create_file(self, request: Request) -> Json:
        parts = multipart_fields(request)
        purpose = parts.get("purpose", (None, b""))[1].decode()
        if "file" not in parts or purpose != "fine-tune":
            raise ApiError(400, "A 'file' and purpose 'fine-tune' are required.", param="file")
        filename, data = parts["file"]
        stored = StoredFile(self._next_id("file"), filename or "upload", purpose, data, int(time.time()))
        self.files[stored.id] = stored
        return stored.to_json()

    def _create_job(self, request: Request) -> Json:
        body = request.json()
        model, training_file = body.get("model"), body.get("training_file")
        if not isinstance(model, str) or not isinstance(training_file, str):
            raise ApiError(400, "'model' and 'training_file' are required.", param="model")
        if training_file not in self.files:
            raise ApiError(404, f"Could not find file: {training_file}.", param="training_file")
        data = self.files[training_file].data
        job = FakeJob(
            self._next_id("ftjob"),
            model,
            training_file,
            body.get("suffix"),
            int(time.time()),
            problem=training_file_problem(data),
            tokens=len(data) // 4,
        )
        self.jobs[job.id] = job
        _event(job, f"Validating training file: {training_file}")
        return job.to_json()

    def _job(self, job_id: str) -> FakeJob:
        if job_id not in self.jobs:
            raise ApiError(404, f"Could not find fine-tuning job: {job_id}.", param="fine_tuning_job_id")
        return self.jobs[job_id]

    def _retrieve_job(self, request: Request, job_id: str) -> Json:
        job = self._job(job_id)
        if job.status == "validating_files" and job.problem:
            job.status, job.finished_at = "failed", int(time.time())
            _event(job, f"Training file validation failed: {job.problem}", level="error")
        elif job.status in NEXT_STATUS:
            _advance(job)
        return job.to_json()

    def _list_events(self, request: Request, job_id: str) -> Json:
        job = self._job(job_id)
        limit = int(request.query.get("limit", ["20"])[0])
        newest_first = job.events[::-1]
        return {"object": "list", "data": newest_first[:limit], "has_more": len(newest_first) > limit}

    def _cancel_job(self, request: Request, job_id: str) -> Json:
        job = self._job(job_id)
        if job.status in FINISHED:
            raise ApiError(400, f"Job {job_id} has already {job.status}.", param="fine_tuning_job_id")
        job.status, job.finished_at = "cancelled", int(time.time())
        _event(job, "Fine-tuning job cancelled")
        return job.to_json()

    def _chat(self, request: Request) -> Json | bytes | Iterator[bytes]:
        body = request.json()
        self.chat_bodies.append(body)
        if self.chat_raw is not None:
            return self.chat_raw
        messages = body.get("messages", [])
        users = [m.get("content") for m in messages if m.get("role") == "user"]
        if not users or not isinstance(users[-1], str):
            raise ApiError(400, "A user message is required.", param="messages")
        reply = self.chat_reply(messages)
        model = body.get("model", "")
        if body.get("stream"):
            return self._chunks(self._next_id("chatcmpl"), model, reply)
        return {
            "id": self._next_id("chatcmpl"),
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", ""),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": reply},
                    "finish_reason": "stop",
                    "logprobs": None,
                }
            ],
            "usage": {"prompt_tokens": 50, "completion_tokens": 12, "total_tokens": 62},
        }

    def _chunks(self, chunk_id: str, model: str, reply: str) -> Iterator[bytes]:
        """The reply as OpenAI streams it: a chunk per word, then the usage, then [DONE]."""
        words = re.findall(r"\S+\s*", reply)
        for index, word in enumerate(words):
            if index == self.stream_garbage_after:
                yield b"data: {this is not json\n\n"
                return
            if index and self.stream_pause:
                time.sleep(self.stream_pause)
            delta = {"role": "assistant", "content": word} if index == 0 else {"content": word}
            choice = {"index": 0, "delta": delta, "finish_reason": None, "logprobs": None}
            yield _sse(
                {
                    "id": chunk_id,
                    "object": "chat.completion.chunk",
                    "created": int(time.time()),
                    "model": model,
                    "choices": [choice],
                }
            )
        usage = {"prompt_tokens": 50, "completion_tokens": len(words), "total_tokens": 50 + len(words)}
        yield _sse(
            {
                "id": chunk_id,
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": model,
                "choices": [],
                "usage": usage,
            }
        )
        yield b"data: [DONE]\n\n"


def _sse(data: Json) -> bytes:
    return f"data: {json.dumps(data)}\n\n".encode()


def ask_about_last_message(messages: list[Json]) -> str:
    """What an LLM asked to write a question about a passage answers."""
    users = [str(m.get("content", "")) for m in messages if m.get("role") == "user"]
    words = " ".join(users[-1].split()[:5])
    return f'1. "What does {words} describe?"\n'


def answer_from_passages(messages: list[Json]) -> str:
    """What an answer model answers: the first sentence of passage [1], cited; a bogus [9] too when the
    question asks for one; the no-information sentence when no passage is given."""
    user = str([m for m in messages if m.get("role") == "user"][-1].get("content", ""))
    match = re.search(r"^\[1\] [^\n]*\n(?P<text>[^\n]+)", user, re.MULTILINE)
    if match is None:
        return "I don't have that information."
    sentence = match.group("text").split(". ")[0].rstrip(".")
    bogus = " [9]" if "bogus" in user.lower() else ""
    return f"{sentence} [1].{bogus}"


def _advance(job: FakeJob) -> None:
    job.status = NEXT_STATUS[job.status]
    if job.status == "queued":
        _event(job, "Files validated, moving job to queued state")
    elif job.status == "running":
        _event(job, "Fine-tuning job started")
        _event(job, "Step 1/10: training loss=1.25", kind="metrics")
    else:
        job.fine_tuned_model = f"ft:{job.model}:freshrag:{job.suffix}:{job.id}"
        job.trained_tokens = job.tokens * N_EPOCHS
        job.finished_at = int(time.time())
        _event(job, f"New fine-tuned model created: {job.fine_tuned_model}")
        _event(job, "The job has successfully completed")


def _event(job: FakeJob, message: str, *, level: str = "info", kind: str = "message") -> None:
    job.events.append(
        {
            "id": f"ftevent-{job.id}-{len(job.events) + 1}",
            "object": "fine_tuning.job.event",
            "created_at": int(time.time()),
            "level": level,
            "message": message,
            "type": kind,
            "data": {},
        }
    )


def training_file_problem(data: bytes) -> str | None:
    """Why OpenAI refuses a chat fine-tuning file, in its words; None when it accepts it."""
    try:
        lines = [line for line in data.decode("utf-8").splitlines() if line.strip()]
    except UnicodeDecodeError:
        return "Invalid file format. The file is not UTF-8."
    if len(lines) < 10:
        return f"Training file has {len(lines)} example(s), but must have at least 10 examples."
    for number, line in enumerate(lines, start=1):
        problem = _line_problem(line)
        if problem:
            return f"Invalid file format. Line {number}, {problem}"
    return None


def _line_problem(line: str) -> str | None:
    try:
        example = json.loads(line)
    except json.JSONDecodeError:
        return "not valid JSON."
    messages = example.get("messages") if isinstance(example, dict) else None
    if not isinstance(messages, list) or not messages:
        return "key 'messages': missing or empty."
    for index, message in enumerate(messages, start=1):
        if not isinstance(message, dict) or message.get("role") not in ROLES:
            return f"message {index}: unrecognized role."
        if not isinstance(message.get("content"), str) or not message["content"]:
            return f"message {index}: content must be a non-empty string."
    if not any(message["role"] == "assistant" for message in messages):
        return "no assistant message."
    return None


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # names in lower case
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Json:
        try:
            value = json.loads(self.body)
        except ValueError:
            raise ApiError(400, "The body is not valid JSON.") from None
        if not isinstance(value, dict):
            raise ApiError(400, "The body must be a JSON object.")
        return value


def multipart_fields(request: Request) -> dict[str, tuple[str | None, bytes]]:
    """The parts of a multipart/form-data body by field name: (file name or None, bytes)."""
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        raise ApiError(400, "Expected multipart/form-data.")
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + request.body)
    fields: dict[str, tuple[str | None, bytes]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if isinstance(name, str) and isinstance(payload, bytes):
            fields[name] = (part.get_filename(), payload)
    return fields


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeOpenAI

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (a timeout under test) is no error of the server's."""
        if not isinstance(sys.exc_info()[1], BrokenPipeError | ConnectionResetError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the openai client expects
    disable_nagle_algorithm = True  # headers and body go in two writes: no 40 ms delayed-ACK stall

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _serve(self) -> None:
        url = urlsplit(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {name.lower(): value for name, value in self.headers.items()}
        request = Request(self.command, url.path, parse_qs(url.query), headers, body)
        status, answer = cast(_Server, self.server).fake.handle(request)
        if not isinstance(
            answer, dict | bytes
        ):  # a stream of server-sent events, until the connection closes
            self.send_response(status)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            for piece in answer:
                self.wfile.write(piece)
                self.wfile.flush()
            return
        data = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if status >= 400:
            self.send_header("retry-after-ms", "1")  # as OpenAI does; keeps the client's retries quick
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the tests assert on `FakeOpenAI.requests`."""


@contextlib.contextmanager
def fake_openai(api_key: str = "sk-test") -> Iterator[FakeOpenAI]:
    """Serve a fresh `FakeOpenAI` on a free loopback port while the block runs."""
    fake = FakeOpenAI(api_key)
    server = _Server(("127.0.0.1", 0), _Handler)
    server.fake = fake
    fake.base_url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    # A short poll interval: shutdown() waits for the serving loop to look, each test's teardown with it.
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), name="fake-openai", daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
