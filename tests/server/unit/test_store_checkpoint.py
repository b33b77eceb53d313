"""The checkpoint thread: commits are copied back into the database off the commit path."""

from __future__ import annotations

from pathlib import Path

from tests.support.stores import WAIT
from wirechat_server.storage import sqlite_sql
from wirechat_server.storage.sqlite_checkpoint import Checkpointer


def _commit_rows(path: Path, count: int) -> None:
    """``count`` commits of one row each, by a writer connection as the store opens it."""
    conn, _ = sqlite_sql.open_writer(path, synchronous="NORMAL")
    try:
        for index in range(count):
            with sqlite_sql.transaction(conn):
                conn.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (f"k{index}", index))
    finally:
        conn.close()


def test_the_writer_leaves_checkpoints_to_the_thread(tmp_path: Path) -> None:
    path = tmp_path / "messages.sqlite3"
    conn, _ = sqlite_sql.open_writer(path, synchronous="NORMAL")
    try:
        (pages,) = conn.execute("PRAGMA wal_autocheckpoint").fetchone()
    finally:
        conn.close()
    assert pages == sqlite_sql.WRITER_AUTOCHECKPOINT_PAGES > 1000  # SQLite's default: 1,000


def test_a_commit_is_checkpointed_within_the_interval_and_only_after_one(tmp_path: Path) -> None:
    path = tmp_path / "messages.sqlite3"
    # The database must exist in WAL mode before the thread opens it.
    sqlite_sql.open_writer(path, synchronous="NORMAL")[0].close()
    checkpointer = Checkpointer(path, synchronous="NORMAL", interval=0.01)
    checkpointer.start()
    try:
        assert not checkpointer.checkpointed.wait(0.1)  # nothing committed: nothing to do

        _commit_rows(path, 50)
        checkpointer.note_commit()
        assert checkpointer.checkpointed.wait(WAIT)
        assert checkpointer.last is not None
        wal_pages, copied = checkpointer.last
        assert wal_pages > 0
        assert copied == wal_pages  # nobody was reading or writing: all of it went back
    finally:
        checkpointer.stop()
