"""The embedded stores' SQLite files: WAL, and usable after a fork (a Celery prefork worker's case)."""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path

import pytest

from freshrag.state.sqlite_file import SqliteFile

SCHEMA = "CREATE TABLE IF NOT EXISTS t (v INTEGER NOT NULL)"


def test_the_file_is_in_wal_mode_and_a_failed_transaction_rolls_back(tmp_path: Path) -> None:
    file = SqliteFile(tmp_path / "a" / "t.sqlite3", schema=SCHEMA)
    with file.connection() as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    try:
        with file.transaction() as db:
            db.execute("INSERT INTO t VALUES (1)")
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    with file.transaction(durable=False) as db:
        db.execute("INSERT INTO t VALUES (2)")
    with file.connection() as db:
        assert db.execute("SELECT v FROM t").fetchall() == [(2,)]
    file.close()


def test_a_forked_child_opens_its_own_connection_even_while_a_parent_thread_holds_the_lock(
    tmp_path: Path,
) -> None:
    file = SqliteFile(tmp_path / "t.sqlite3", schema=SCHEMA)
    with file.transaction() as db:
        db.execute("INSERT INTO t VALUES (1)")
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with file.connection():
            holding.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    holding.wait(10)
    pid = os.fork()
    if pid == 0:  # the child: the parent's lock is held for good here, its connection is not ours
        code = 1
        try:
            with file.transaction() as db:
                db.execute("INSERT INTO t VALUES (2)")
            code = 0
        finally:
            os._exit(code)
    release.set()
    holder.join()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    with file.connection() as db:
        assert sorted(db.execute("SELECT v FROM t").fetchall()) == [(1,), (2,)]


def test_a_file_opened_per_use_notices_at_once_that_it_was_replaced(tmp_path: Path) -> None:
    path = tmp_path / "t.sqlite3"
    file = SqliteFile(path, schema=SCHEMA, per_use=True)
    path.rename(tmp_path / "kept.sqlite3")
    path.mkdir()  # no process can open a directory as a database
    with pytest.raises(sqlite3.OperationalError), file.transaction() as db:
        db.execute("INSERT INTO t VALUES (1)")
