"""User feedback: the SQLite log (embedded) and the Redis log (distributed, a real redis-server) behave the
same and keep every entry across a restart and under concurrent writers; `POST /feedback` stores only
feedback on indexed documents, answers 503 (nothing stored) when the log cannot be written, and never a
5xx for any body."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from freshrag.coordination import open_feedback
from freshrag.documents import DocStatus, DocumentRecord, SourceKind
from freshrag.settings import load_settings
from freshrag.state import feedback as feedback_module
from freshrag.state.feedback import (
    Feedback,
    FeedbackLog,
    RedisFeedbackLog,
    SqliteFeedbackLog,
)
from services.api.errors import install_error_handlers
from services.api.feedback import feedback_router
from tests.redis_server import RedisServer

AT = 1_700_000_000.0


@dataclass
class Backend:
    """A log, and how to open it again as a restarted process would (Redis itself restarted too)."""

    log: FeedbackLog
    reopen: Callable[[], FeedbackLog]


@pytest.fixture(params=["sqlite", "redis"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "sqlite":
        path = tmp_path / "data" / "feedback.sqlite3"
        opened = [SqliteFeedbackLog(path)]

        def reopen_sqlite() -> FeedbackLog:
            opened.append(SqliteFeedbackLog(path))
            return opened[-1]

        yield Backend(opened[0], reopen_sqlite)
        for log in opened:
            log.close()
        return
    server: RedisServer = request.getfixturevalue("redis_server")

    def reopen_redis() -> FeedbackLog:
        server.stop()
        server.start()
        return RedisFeedbackLog(server.client())

    yield Backend(RedisFeedbackLog(server.client()), reopen_redis)


def add_many(log: FeedbackLog, count: int, prefix: str = "q") -> list[Feedback]:
    return [log.add(f"{prefix}{i}", f"doc-{i}", i % 3 != 0, AT + i) for i in range(count)]


def test_each_feedback_gets_the_next_seq_and_is_counted(backend: Backend) -> None:
    log = backend.log
    assert log.count() == 0
    first = log.add("  where is the handbook? ", "file:docs/handbook.md", True, AT)
    assert first == Feedback("where is the handbook?", "file:docs/handbook.md", True, AT, seq=1)
    second = log.add("refunds", "cms:blog/refunds", False, AT + 1)
    assert second.seq == 2
    assert log.count() == 2
    assert list(log.entries()) == [first, second]


def test_entries_are_read_oldest_first_after_a_seq_across_pages(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(feedback_module, "PAGE", 3)  # so that a few entries span several pages
    added = add_many(backend.log, 10)
    assert [entry.seq for entry in added] == list(range(1, 11))
    assert list(backend.log.entries()) == added
    assert list(backend.log.entries(after_seq=4)) == added[4:]
    assert list(backend.log.entries(after_seq=6)) == added[6:]  # a page boundary
    assert list(backend.log.entries(after_seq=10)) == []
    assert list(backend.log.entries(after_seq=-5)) == added


def test_latest_is_newest_first(backend: Backend) -> None:
    added = add_many(backend.log, 5)
    assert backend.log.latest(3) == added[:1:-1]
    assert backend.log.latest(50) == added[::-1]
    assert backend.log.latest(0) == []


def test_invalid_fields_are_refused_and_nothing_is_stored(backend: Backend) -> None:
    with pytest.raises(ValueError, match="query is empty"):
        backend.log.add("   ", "doc", True, AT)
    with pytest.raises(ValueError, match="doc_id is empty"):
        backend.log.add("query", "", True, AT)
    assert backend.log.count() == 0


def test_feedback_survives_a_restart(backend: Backend) -> None:
    added = add_many(backend.log, 4)
    reopened = backend.reopen()
    assert reopened.count() == 4
    assert list(reopened.entries()) == added
    assert reopened.add("after the restart", "doc-x", True, AT).seq == 5


def test_concurrent_writers_lose_nothing_and_share_no_seq(backend: Backend) -> None:
    threads, each = 8, 25
    results: list[list[Feedback]] = [[] for _ in range(threads)]
    start = threading.Barrier(threads)

    def write(index: int) -> None:
        start.wait()
        results[index] = add_many(backend.log, each, prefix=f"t{index}-")

    workers = [threading.Thread(target=write, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    seqs = sorted(entry.seq for result in results for entry in result)
    assert seqs == list(range(1, threads * each + 1))
    stored = {entry.seq: entry for entry in backend.log.entries()}
    assert stored == {entry.seq: entry for result in results for entry in result}
    assert backend.log.count() == threads * each


def test_the_mode_chooses_the_log(tmp_path: Path, redis_server: RedisServer) -> None:
    embedded = open_feedback(load_settings(data_dir=tmp_path), None)
    assert isinstance(embedded, SqliteFeedbackLog)
    assert (tmp_path / "feedback.sqlite3").is_file()
    embedded.close()
    distributed = load_settings(data_dir=tmp_path, broker_url=redis_server.url)
    assert isinstance(open_feedback(distributed, redis_server.client()), RedisFeedbackLog)
    with pytest.raises(ValueError, match="broker's client"):
        open_feedback(distributed, None)


# The route, over a stand-in store: what is tested is the route and the log, not the index.

INDEXED = "file:docs/indexed.md"
RECORDS = {
    INDEXED: DocumentRecord(INDEXED, DocStatus.INDEXED, SourceKind.FILE, "docs/indexed.md"),
    "cms:blog/deleted": DocumentRecord("cms:blog/deleted", DocStatus.DELETED, SourceKind.CMS, "blog/deleted"),
    "canary:probe": DocumentRecord("canary:probe", DocStatus.INDEXED, SourceKind.CANARY, "canary"),
    "file:docs/pending.md": DocumentRecord("file:docs/pending.md", DocStatus.PENDING, SourceKind.FILE, "p"),
    "file:docs/failed.pdf": DocumentRecord("file:docs/failed.pdf", DocStatus.FAILED, SourceKind.FILE, "f"),
    "file:docs/skipped.bin": DocumentRecord("file:docs/skipped.bin", DocStatus.SKIPPED, SourceKind.FILE, "s"),
}


class FakeStore:
    def get_record(self, doc_id: str) -> DocumentRecord | None:
        return RECORDS.get(doc_id)


@dataclass
class StubRuntime:
    feedback: FeedbackLog
    store: FakeStore = field(default_factory=FakeStore)


class BrokenLog(SqliteFeedbackLog):
    """A log whose writes fail as a broker or a disk does; reads still work, to see that nothing was kept."""

    def __init__(self, path: Path, error: Exception) -> None:
        super().__init__(path)
        self.error = error

    def add(self, query: str, doc_id: str, relevant: bool, at: float) -> Feedback:
        raise self.error


def client_for(log: FeedbackLog, on_feedback: Callable[[Feedback], None] | None = None) -> TestClient:
    app = FastAPI()
    install_error_handlers(app)  # as create_app does
    app.include_router(feedback_router(StubRuntime(log), on_feedback))
    # raise_server_exceptions: an unhandled error fails the test instead of turning into a 500.
    return TestClient(app, raise_server_exceptions=True)


@pytest.fixture
def log(tmp_path: Path) -> Iterator[SqliteFeedbackLog]:
    opened = SqliteFeedbackLog(tmp_path / "feedback.sqlite3")
    yield opened
    opened.close()


def test_feedback_on_an_indexed_document_is_stored(log: SqliteFeedbackLog) -> None:
    seen: list[Feedback] = []
    client = client_for(log, seen.append)
    response = client.post(
        "/feedback", json={"query": " reset password ", "doc_id": INDEXED, "relevant": False}
    )
    assert response.status_code == 202, response.text
    body = response.json()
    assert {key: body[key] for key in ("seq", "query", "doc_id", "relevant")} == {
        "seq": 1,
        "query": "reset password",
        "doc_id": INDEXED,
        "relevant": False,
    }
    assert list(log.entries()) == seen == [Feedback("reset password", INDEXED, False, body["at"], 1)]
    assert client.post("/feedback", json={"query": "q2", "doc_id": INDEXED}).json()["relevant"] is True

    listed = client.get("/feedback", params={"limit": 1}).json()
    assert listed["total"] == 2
    assert [entry["query"] for entry in listed["feedback"]] == ["q2"]


@pytest.mark.parametrize(
    ("doc_id", "status"),
    [
        ("file:docs/unknown.md", 404),
        ("cms:blog/deleted", 404),
        ("canary:probe", 404),
        ("file:docs/pending.md", 409),
        ("file:docs/failed.pdf", 409),
        ("file:docs/skipped.bin", 409),
    ],
)
def test_feedback_on_a_document_search_cannot_return_is_refused(
    log: SqliteFeedbackLog, doc_id: str, status: int
) -> None:
    response = client_for(log).post("/feedback", json={"query": "anything", "doc_id": doc_id})
    assert response.status_code == status, response.text
    assert doc_id in response.json()["detail"]
    assert log.count() == 0


@pytest.mark.parametrize(
    "body",
    [
        {"query": "   ", "doc_id": INDEXED},
        {"query": "", "doc_id": INDEXED},
        {"query": "q" * 4097, "doc_id": INDEXED},
        {"query": "q", "doc_id": ""},
        {"query": "q"},
        {"query": "q", "doc_id": INDEXED, "relevant": "perhaps"},
        ["q", INDEXED],
    ],
)
def test_a_malformed_body_is_422_and_stores_nothing(log: SqliteFeedbackLog, body: Any) -> None:
    response = client_for(log).post("/feedback", json=body)
    assert response.status_code == 422, response.text
    assert log.count() == 0


def test_a_body_that_is_not_utf8_is_422(log: SqliteFeedbackLog) -> None:
    response = client_for(log).post("/feedback", content=b"\x80", headers={"content-type": "text/plain"})
    assert response.status_code == 422, response.text
    assert log.count() == 0


def test_a_lone_surrogate_is_422(log: SqliteFeedbackLog) -> None:
    raw = b'{"query": "bad \\ud800 text", "doc_id": "file:docs/indexed.md"}'
    response = client_for(log).post("/feedback", content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["body", "query"]
    assert log.count() == 0


@pytest.mark.parametrize(
    "error", [redis.ConnectionError("Connection refused"), sqlite3.OperationalError("disk I/O error")]
)
def test_a_log_that_cannot_write_is_503_with_retry_after(tmp_path: Path, error: Exception) -> None:
    broken = BrokenLog(tmp_path / "feedback.sqlite3", error)
    response = client_for(broken).post("/feedback", json={"query": "q", "doc_id": INDEXED})
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"].isdigit()
    assert type(error).__name__ in response.json()["detail"]
    assert broken.count() == 0
    broken.close()


def test_a_stopped_redis_is_503_and_nothing_is_stored(redis_server: RedisServer) -> None:
    client = client_for(RedisFeedbackLog(redis_server.client()))
    redis_server.stop()
    response = client.post("/feedback", json={"query": "q", "doc_id": INDEXED})
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"].isdigit()
    assert client.get("/feedback").status_code == 503

    redis_server.start()
    assert RedisFeedbackLog(redis_server.client()).count() == 0
    response = client.post("/feedback", json={"query": "q", "doc_id": INDEXED})  # the same process recovers
    assert response.status_code == 202, response.text
    assert response.json()["seq"] == 1


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
edge_texts = st.sampled_from(["", " ", "\t\n", "\ud800", "\udfff", "\x00", "é", "q" * 4097, "d" * 2049])
texts = st.text(max_size=30) | edge_texts | st.builds(str.__add__, st.text(max_size=5), edge_texts)
plausible = st.fixed_dictionaries(  # mostly well-formed, on every kind of document
    {
        "query": st.text(min_size=1, max_size=30) | texts,
        "doc_id": st.sampled_from([INDEXED, *sorted(RECORDS)]),
    },
    optional={"relevant": st.booleans()},
)
fields = st.fixed_dictionaries(
    {},
    optional={
        "query": texts | json_values,
        "doc_id": st.sampled_from(sorted(RECORDS)) | texts | json_values,
        "relevant": st.booleans() | json_values,
        "extra": json_values,
    },
)
bodies = (
    plausible.map(lambda body: json.dumps(body).encode())
    | fields.map(lambda body: json.dumps(body).encode())
    | json_values.map(lambda value: json.dumps(value).encode())
    | st.binary(max_size=60)
)


@pytest.fixture(scope="module")
def fuzz_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, SqliteFeedbackLog]]:
    log = SqliteFeedbackLog(tmp_path_factory.mktemp("fuzz") / "feedback.sqlite3")
    yield client_for(log), log
    log.close()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies, content_type=st.sampled_from(["application/json", "text/plain", ""]))
def test_no_body_gets_a_5xx(
    fuzz_target: tuple[TestClient, SqliteFeedbackLog], body: bytes, content_type: str
) -> None:
    client, log = fuzz_target
    before = log.count()
    response = client.post("/feedback", content=body, headers={"content-type": content_type})
    assert response.status_code in {202, 400, 404, 409, 422}, response.text
    assert log.count() == before + (response.status_code == 202)
