"""Checkpoints off the commit path: a thread that copies the WAL back into the database.

In WAL mode a commit appends to the ``-wal`` file. By default the committing connection also
copies the WAL back into the database file once it passes 1,000 pages, inside that commit:
some 4 MB written and fsynced while every message of the batch, and every message behind it,
waits. Measured here under fan-out load, such commits took 120 to 165 ms instead of 1 to 3, and
the p99 latency of a whole benchmark run jumped to 150 to 340 ms. So the writer leaves
checkpoints to this thread (it keeps only a far larger threshold of its own, as a bound), and
this thread runs a *passive* checkpoint on a connection of its own every ``interval`` seconds
while messages are being committed: it copies what it can without waiting for the writer or
the readers, and nobody waits for it.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path
from typing import Final

from . import sqlite_sql
from .sqlite_sql import Synchronous

log: Final = logging.getLogger("wirechat.store")

#: Seconds between checkpoints while commits are happening: the WAL holds about this much.
CHECKPOINT_INTERVAL: Final = 0.5


class Checkpointer:
    """The checkpoint thread. :meth:`note_commit` and :meth:`stop` are called from the loop."""

    def __init__(
        self, path: Path, *, synchronous: Synchronous, interval: float = CHECKPOINT_INTERVAL
    ) -> None:
        self._path = path
        self._synchronous: Final = synchronous
        self._interval = interval
        self._committed = threading.Event()  # set by the loop after a commit
        self._stopping = threading.Event()
        #: Set after each checkpoint (for tests and health checks); ``last`` is its result:
        #: (pages in the WAL, pages copied into the database).
        self.checkpointed = threading.Event()
        self.last: tuple[int, int] | None = None
        self._thread = threading.Thread(
            target=self._run, name="wirechat-store-checkpoint", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def note_commit(self) -> None:
        """Something was committed: a checkpoint is due within ``interval``."""
        self._committed.set()

    def stop(self) -> None:
        """End the thread (blocking: call it off the loop)."""
        self._stopping.set()
        self._committed.set()
        self._thread.join()

    def _run(self) -> None:
        try:
            conn = sqlite_sql.connect(self._path, synchronous=self._synchronous)
        except sqlite3.Error as exc:
            log.warning("no checkpoint thread (the writer checkpoints by itself): %s", exc)
            return
        try:
            while True:
                self._committed.wait()
                if self._stopping.is_set():
                    return
                self._committed.clear()
                try:
                    self.last = sqlite_sql.checkpoint(conn)
                except sqlite3.Error as exc:  # the writer's own threshold still bounds the WAL
                    log.warning("checkpoint failed: %s", exc)
                self.checkpointed.set()
                if self._stopping.wait(self._interval):
                    return
        finally:
            conn.close()
