"""The message store's writer thread: group commit, id assignment, idempotency, retention runs.

One thread owns the only write connection (SQLite allows one writer at a time anyway, and a
single owner means no lock contention and no SQLITE_BUSY between our own connections). It loops:

1. take *everything* queued (the submissions of one or more event-loop turns);
2. in one transaction: look up client ids, assign ids from the counter, insert, save the
   high-water mark; then commit (one fsync with ``synchronous=FULL``) — group commit;
3. hand the batch's outcomes back to the loop with one ``call_soon_threadsafe``.

While step 2 waits for the disk, new submissions pile up and form the next batch, so batches
grow with load by themselves and no timer adds latency when the server is quiet. Messages come
before retention: a retention run does one short step (one small transaction) between batches.

A batch whose transaction fails (disk full, I/O error, a failing ``before_commit`` hook) is rolled
back as a whole and each of its submissions fails with :class:`StoreUnavailable`; the id counter
is not advanced, and the next batch simply tries again.

The thread releases the GIL inside every SQLite call (fsync included); what it does in Python
per message (a lookup, a tuple, a dataclass) is a few microseconds.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final, NamedTuple

from . import sqlite_sql
from .model import (
    AppendResult,
    Row,
    SessionRow,
    StoreClosed,
    StoredMessage,
    StoreUnavailable,
    dm_members,
)
from .sqlite_sql import Synchronous

log: Final = logging.getLogger("wirechat.store")

#: A commit that takes longer than this (seconds) is reported: every message in it, and every
#: message behind it, waited that long to be relayed. A healthy disk commits in about 1 ms.
SLOW_COMMIT: Final = 0.1
#: At most one slow-storage warning per this many seconds; each counts the ones it folded in.
SLOW_COMMIT_REPORT_EVERY: Final = 60.0


class Submission(NamedTuple):
    """One message waiting to be stored, with the future that waits for it."""

    future: asyncio.Future[AppendResult]
    room: str
    sender: str
    sender_key: str
    text: str
    action: bool
    client_id: str | None
    ts: int
    #: A stored message with the same client id and an id at or below this is not a duplicate:
    #: it was sent before the sender's session began (by an earlier holder of the name).
    fresh_after: int = 0


@dataclass(slots=True)
class RetentionJob:
    """A retention run: its limits, its steps once begun, and who waits for the total."""

    cutoff_ms: int | None
    max_per_room: int | None
    future: asyncio.Future[int]
    steps: Iterator[int] | None = None
    deleted: int = 0


#: (future, result or the exception to set) for each submission of a batch, in id order.
Outcomes = list[tuple[asyncio.Future[AppendResult], AppendResult | BaseException]]


class SlowCommits:
    """Warns when commits are slow: the first at once, then at most once a minute.

    With ``synchronous=FULL`` a message is relayed only once its commit's fsync returns, so a
    stalling disk shows as latency for everyone; this is how an operator finds out why. Slow
    commits after a report are counted, and reported with the first commit (slow or not) a
    minute later, or when the store closes.
    """

    __slots__ = ("_clock", "_count", "_reported_at", "_slowest", "_slowest_rows")

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._count = 0
        self._slowest = 0.0
        self._slowest_rows = 0
        self._reported_at = -SLOW_COMMIT_REPORT_EVERY

    def note(self, took: float, rows: int) -> None:
        """A commit of ``rows`` (messages or sessions) took ``took`` seconds."""
        if took >= SLOW_COMMIT:
            self._count += 1
            if took > self._slowest:
                self._slowest, self._slowest_rows = took, rows
        if self._count and self._clock() - self._reported_at >= SLOW_COMMIT_REPORT_EVERY:
            self.report()

    def report(self) -> None:
        """Log the slow commits not reported yet, if any."""
        if not self._count:
            return
        log.warning(
            "slow storage: %d commit(s) over %.0f ms since the last report, the slowest %.0f ms "
            "(%d rows); messages are relayed only once committed",
            self._count,
            SLOW_COMMIT * 1000,
            self._slowest * 1000,
            self._slowest_rows,
        )
        self._count = 0
        self._slowest = 0.0
        self._reported_at = self._clock()


class Writer:
    """The writer thread. Methods other than the thread's own are called from the loop.

    ``on_batch(outcomes, ok)`` and ``on_exit()`` run on ``loop`` (scheduled thread-safely), once
    per batch and once when the thread ends.
    """

    def __init__(
        self,
        path: Path,
        *,
        synchronous: Synchronous,
        window_ms: int,
        retention_chunk: int,
        before_commit: Callable[[int], None] | None,
        loop: asyncio.AbstractEventLoop,
        on_batch: Callable[[Outcomes, bool], None],
        on_exit: Callable[[], None],
    ) -> None:
        self._path = path
        self._synchronous: Final = synchronous
        self._window_ms: Final = window_ms
        self._chunk: Final = retention_chunk
        self._before_commit = before_commit
        self._loop = loop
        self._on_batch = on_batch
        self._on_exit = on_exit
        # Shared with the loop thread, under _cond.
        self._cond = threading.Condition()
        self._queue: list[Submission] = []
        self._sessions: list[SessionRow] = []  # sessions to save
        self._session_expiry_ms = 0  # sessions last seen before this are deleted
        self._jobs: collections.deque[RetentionJob] = collections.deque()
        self._stopping = False
        # The writer thread's own.
        self._conn: sqlite3.Connection | None = None
        self._last_id = 0  # the last committed id
        self._failing = False
        self._slow = SlowCommits()
        #: The last id once the database is open (or why it could not be opened).
        self.ready: concurrent.futures.Future[int] = concurrent.futures.Future()
        #: Done when the thread has ended, after its last ``on_batch``.
        self.done: concurrent.futures.Future[None] = concurrent.futures.Future()
        # Daemon: a process that exits without close() must not hang on this thread. Nothing
        # unacked was promised to anyone, and every ack was sent after its commit.
        self._thread = threading.Thread(target=self._run, name="wirechat-store-write", daemon=True)

    # -- from the loop -----------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def put(self, batch: list[Submission]) -> None:
        with self._cond:
            self._queue.extend(batch)
            self._cond.notify()

    def put_sessions(self, rows: list[SessionRow], expire_before_ms: int) -> None:
        with self._cond:
            self._sessions.extend(rows)
            self._session_expiry_ms = expire_before_ms
            self._cond.notify()

    def add_job(self, job: RetentionJob) -> None:
        with self._cond:
            self._jobs.append(job)
            self._cond.notify()

    def stop(self) -> None:
        """Finish what is queued, refuse pending retention runs, close, and end the thread."""
        with self._cond:
            self._stopping = True
            self._cond.notify()

    # -- the thread --------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._connection()
        except BaseException as exc:
            self.ready.set_exception(exc)
            self.done.set_result(None)
            return
        self.ready.set_result(self._last_id)
        try:
            self._loop_until_stopped()
        except BaseException:  # pragma: no cover - a bug; still settle every future below
            log.critical("the message store's writer failed", exc_info=True)
            raise
        finally:
            self._slow.report()
            if self._conn is not None:
                self._conn.close()
            self._abandon()
            self.done.set_result(None)

    def _loop_until_stopped(self) -> None:
        while True:
            with self._cond:
                while (
                    not self._queue and not self._sessions and not self._jobs and not self._stopping
                ):
                    self._cond.wait()
                batch, self._queue = self._queue, []
                sessions, self._sessions = self._sessions, []
                job = self._jobs[0] if self._jobs else None
                stopping = self._stopping
            if sessions:
                self._save_sessions(sessions)
            if batch:
                self._commit(batch)
            elif sessions:
                continue
            elif stopping:
                return
            elif job is not None:
                self._retention_step(job)

    def _abandon(self) -> None:
        # Refuse whatever is left: no queued messages after a normal stop (it drains first),
        # but retention runs, and everything if the loop above died of a bug.
        with self._cond:
            batch, self._queue = self._queue, []
            jobs, self._jobs = list(self._jobs), collections.deque()
        if batch:
            closed: Outcomes = [(sub.future, StoreClosed("the store closed")) for sub in batch]
            self._post(self._on_batch, closed, False)
        for job in jobs:
            self._post(_settle, job.future, StoreClosed("the store closed"))
        self._post(self._on_exit)

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn, last_id = sqlite_sql.open_writer(self._path, synchronous=self._synchronous)
            self._last_id = max(self._last_id, last_id)
        return self._conn

    def _save_sessions(self, rows: list[SessionRow]) -> None:
        # Sessions are a convenience, not a promise: a failure is logged and the rows dropped
        # (the sessions stay valid in memory until the server stops).
        started = time.monotonic()
        try:
            conn = self._connection()
            with sqlite_sql.transaction(conn):
                conn.executemany(sqlite_sql.SAVE_SESSION, rows)
                conn.execute(sqlite_sql.EXPIRE_SESSIONS, (self._session_expiry_ms,))
        except Exception as exc:
            log.warning("cannot save %d sessions: %s", len(rows), exc)
            self._drop_if_stuck()
            return
        self._slow.note(time.monotonic() - started, len(rows))  # messages wait behind it too

    def _commit(self, batch: list[Submission]) -> None:
        started = time.monotonic()
        try:
            outcomes = self._write(batch)
        except Exception as exc:
            if not self._failing:  # log the change of state, not every refused batch
                log.error(
                    "cannot store messages: %s", exc, exc_info=not isinstance(exc, sqlite3.Error)
                )
            self._failing = True
            self._drop_if_stuck()
            failed: Outcomes = []
            for sub in batch:
                error = StoreUnavailable(f"storage failed: {exc}")  # one each: raising a shared
                error.__cause__ = exc  # instance in many tasks would pile up tracebacks
                failed.append((sub.future, error))
            self._post(self._on_batch, failed, False)
            return
        self._slow.note(time.monotonic() - started, len(batch))
        if self._failing:
            log.warning("storing messages works again")
            self._failing = False
        self._post(self._on_batch, outcomes, True)

    def _write(self, batch: list[Submission]) -> Outcomes:
        conn = self._connection()
        last_id = self._last_id
        outcomes: Outcomes = []
        rows: list[Row] = []
        fresh: dict[tuple[str, str], StoredMessage] = {}  # stored by this batch, by client id
        with sqlite_sql.transaction(conn):
            for sub in batch:
                if sub.client_id is not None:
                    key = (sub.sender_key, sub.client_id)
                    original = fresh.get(key) or self._original(conn, key, sub.ts, sub.fresh_after)
                    if original is not None:
                        outcomes.append((sub.future, AppendResult(original, duplicate=True)))
                        continue
                last_id += 1
                row: Row = (last_id, sub.ts, sub.room, sub.sender, sub.sender_key, sub.text,
                            int(sub.action), sub.client_id)  # fmt: skip
                rows.append(row)
                message = StoredMessage.from_row(row)
                if sub.client_id is not None:
                    fresh[sub.sender_key, sub.client_id] = message
                outcomes.append((sub.future, AppendResult(message, duplicate=False)))
            # Explicit ids from our counter (not SQLite's choice): they are known before the
            # insert, so the whole batch goes in with one executemany.
            conn.executemany(sqlite_sql.INSERT, rows)
            conn.executemany(sqlite_sql.ADD_DM_ROOM, _dm_participants(rows))
            if rows:
                conn.execute(sqlite_sql.SET_LAST_ID, (last_id,))
            if self._before_commit is not None:
                self._before_commit(len(batch))
        # Only now, committed. A failed batch leaves the counter alone, so ids stay dense.
        self._last_id = last_id
        return outcomes

    def _original(
        self, conn: sqlite3.Connection, key: tuple[str, str], ts: int, fresh_after: int
    ) -> StoredMessage | None:
        """The message already stored under ``key`` within the window and since the sender's
        session began, if any."""
        row = conn.execute(sqlite_sql.FIND_CLIENT_ID, key).fetchone()
        if row is None:
            return None
        if ts - row[1] <= self._window_ms and row[0] > fresh_after:
            return StoredMessage.from_row(row)
        # Past the window, or someone else's (an earlier holder of the name): the client id may
        # be used again, so release it from the unique index.
        conn.execute(sqlite_sql.FORGET_CLIENT_ID, (row[0],))
        return None

    def _drop_if_stuck(self) -> None:
        # If even the rollback failed, the connection may still be inside the transaction and
        # every later BEGIN would fail: drop it, and the next batch opens a fresh one.
        if self._conn is not None and self._conn.in_transaction:
            self._conn.close()
            self._conn = None

    def _retention_step(self, job: RetentionJob) -> None:
        outcome: int | BaseException
        try:
            if job.steps is None:
                job.steps = sqlite_sql.retention_steps(
                    self._connection(),
                    cutoff_ms=job.cutoff_ms,
                    max_per_room=job.max_per_room,
                    chunk=self._chunk,
                )
            job.deleted += next(job.steps)
            return
        except StopIteration:
            outcome = job.deleted
        except Exception as exc:
            self._drop_if_stuck()
            outcome = StoreUnavailable(f"retention failed: {exc}")
            outcome.__cause__ = exc
        with self._cond:
            self._jobs.popleft()
        self._post(_settle, job.future, outcome)

    def _post(self, callback: Callable[..., None], *args: object) -> None:
        try:
            self._loop.call_soon_threadsafe(callback, *args)
        except RuntimeError:  # the loop is closed: there is nobody left to tell
            log.debug("event loop closed; an outcome was not delivered")


def _settle(future: asyncio.Future[int], outcome: int | BaseException) -> None:
    if future.done():  # cancelled by whoever waited
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


def _dm_participants(rows: list[Row]) -> Iterator[tuple[str, str]]:
    """(name key, conversation) for both parties of each direct message among ``rows``."""
    for row in rows:
        room = row[2]
        members = dm_members(room)
        if members is not None:
            yield members[0], room
            yield members[1], room
