"""Durable message history: every room and direct message is stored before anyone sees it.

:class:`MessageStore` gives each message its id, stores it in SQLite, and only then answers: the
future returned by :meth:`MessageStore.submit` resolves once the message is committed, so the chat
core can acknowledge and fan out a message knowing that it survives ``kill -9`` (and, with
``synchronous="FULL"``, a power cut). It also serves history pages, the replay of what a
reconnecting client missed, and retention.

Threads. The event loop never touches the disk. One writer thread owns the only write connection
(:mod:`.sqlite_writer`: group commit, ids, idempotency); a small pool of read threads has a
connection each; a checkpoint thread copies the WAL back into the database, so that no commit
has to (:mod:`.sqlite_checkpoint`). In WAL mode SQLite lets reads run during a commit, so history
requests never wait for an fsync, and they only ever see committed messages.

Group commit. :meth:`~MessageStore.submit` only queues; everything queued goes to the writer in
one hand-off: at the end of the loop turn after a quiet moment, ``coalesce_delay`` after the
first submission while they keep coming. The writer takes everything queued, writes it in one
transaction, commits once, and resolves the whole batch with one ``call_soon_threadsafe``.

Order. Ids are assigned by the writer in commit order: strictly increasing, never reused (not
after retention, not across restarts). A batch's futures are resolved in id order, and batches in
commit order, so done-callbacks run in id order: fanning out from them keeps id order.

The vocabulary (:class:`StoredMessage`, :class:`AppendResult`, the exception tree, :func:`dm_room`)
lives in :mod:`.model` and is re-exported here; the SQL in :mod:`.sqlite_sql`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import queue
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

from wirechat_common import MAX_HISTORY

from . import sqlite_sql
from .lock import StoreLock
from .model import (
    AppendResult,
    PageQuery,
    SessionRow,
    StoreBusy,
    StoreClosed,
    StoredMessage,
    StoreError,
    StoreFull,
    StoreUnavailable,
    dm_members,
    dm_room,
)
from .space import SpaceGuard
from .sqlite_checkpoint import Checkpointer
from .sqlite_sql import Synchronous
from .sqlite_writer import Outcomes, RetentionJob, Submission, Writer

#: No hand-off within this many coalescing delays (20 ms at the default 2 ms) is a quiet
#: moment: the next submission is handed to the writer at once. (Fan-out uses the same rule.)
QUIET_FACTOR: Final = 10

__all__ = [
    "MAX_HISTORY",
    "AppendResult",
    "MessageStore",
    "PageQuery",
    "SessionRow",
    "StoreBusy",
    "StoreClosed",
    "StoreError",
    "StoreFull",
    "StoreUnavailable",
    "StoredMessage",
    "Synchronous",
    "dm_members",
    "dm_room",
]


#: Above every id: the upper bound of a page that has none.
_ABOVE_ALL: Final = 2**62


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class MessageStore:
    """The message store on one SQLite file: ``await start()``, later ``await close()``.

    ``path`` is the database file (its directory must exist); ``None`` puts it in a temporary
    directory that :meth:`close` removes. ``synchronous="FULL"`` fsyncs every commit and
    survives power loss; ``"NORMAL"`` survives a killed process but may lose the last commits
    on power loss, for more throughput. ``max_pending`` bounds submissions not yet resolved;
    ``idempotency_window_s`` is how long a ``client_id`` deduplicates; ``max_history`` caps one
    history page; ``retention_chunk`` caps the rows one retention step deletes.
    ``before_commit``, if given, is called on the writer thread before each commit with the
    batch size: tests slow storage down or make it fail with it (what it raises fails the batch).

    Every method must be called on the thread of the event loop that ran :meth:`start`.
    """

    def __init__(
        self,
        path: Path | None,
        *,
        synchronous: Synchronous = "FULL",
        max_pending: int = 10_000,
        idempotency_window_s: float = 86_400,
        max_history: int = MAX_HISTORY,
        read_threads: int = 2,
        retention_chunk: int = 500,
        before_commit: Callable[[int], None] | None = None,
        coalesce_delay: float = 0.0,
        max_bytes: int = 0,
        min_free: int = 0,
    ) -> None:
        if min(max_pending, max_history, read_threads, retention_chunk) < 1:
            raise ValueError("max_pending, max_history, read_threads, retention_chunk must be >= 1")
        if idempotency_window_s < 0:
            raise ValueError("idempotency_window_s must not be negative")
        if coalesce_delay < 0:
            raise ValueError("coalesce_delay must not be negative")
        if synchronous not in ("FULL", "NORMAL"):
            raise ValueError(f"synchronous must be FULL or NORMAL, got {synchronous!r}")
        self._path = path
        self._tempdir: Path | None = None
        self._synchronous: Final = synchronous
        self._max_pending: Final = max_pending
        self._window_ms: Final = int(idempotency_window_s * 1000)
        self.max_history: Final = max_history
        self._read_threads: Final = read_threads
        self._retention_chunk: Final = retention_chunk
        self._before_commit = before_commit
        self._coalesce_delay: Final = coalesce_delay
        self._loop: asyncio.AbstractEventLoop | None = None
        self._writer: Writer | None = None
        self._lock: StoreLock | None = None
        self._space_limits = (max_bytes, min_free)  # see storage/space.py
        self._space: SpaceGuard | None = None
        self._checkpointer: Checkpointer | None = None
        self._running = False
        self._closing: asyncio.Future[None] | None = None
        self._incoming: list[Submission] = []  # this turn's, not yet handed to the writer
        self._session_rows: list[SessionRow] = []  # likewise, sessions to save
        self._session_expiry_ms = 0
        self._handoff_scheduled = False
        self._last_handoff = float("-inf")  # loop time
        self._outstanding = 0  # submitted, not yet resolved: what max_pending bounds
        self._last_id = 0
        self._available = True
        # As many read connections as read threads, so a thread always finds one free.
        self._readers = concurrent.futures.ThreadPoolExecutor(
            read_threads, thread_name_prefix="wirechat-store-read"
        )
        self._read_conns: queue.SimpleQueue[sqlite3.Connection] = queue.SimpleQueue()

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Open (or create) the database, recover the last id, start the threads.

        Raises :class:`StoreError` if the file cannot be opened or is not a compatible store,
        and :class:`~.lock.StoreInUse` (a :class:`StoreError`) if another process serves it.
        """
        if self._loop is not None:
            raise RuntimeError("the store was already started")
        if self._path is None:
            self._tempdir = Path(tempfile.mkdtemp(prefix="wirechat-store-"))
            self._path = self._tempdir / "messages.db"
        self._lock = StoreLock.take(self._path)  # before anything touches the database
        max_bytes, min_free = self._space_limits
        self._space = SpaceGuard(self._path, max_bytes=max_bytes, min_free=min_free)
        self._loop = loop = asyncio.get_running_loop()
        self._writer = Writer(
            self._path,
            synchronous=self._synchronous,
            window_ms=self._window_ms,
            retention_chunk=self._retention_chunk,
            before_commit=self._before_commit,
            loop=loop,
            on_batch=self._resolve,
            on_exit=self._writer_exited,
        )
        self._writer.start()
        try:
            # The writer creates the schema and turns WAL on before any reader opens the file.
            self._last_id = await asyncio.wrap_future(self._writer.ready)
            self._checkpointer = Checkpointer(self._path, synchronous=self._synchronous)
            self._checkpointer.start()
            for _ in range(self._read_threads):
                conn = await asyncio.to_thread(
                    sqlite_sql.connect, self._path, synchronous=self._synchronous, query_only=True
                )
                # A first read opens the WAL and shared-memory files now, so the server's
                # descriptors are all taken at start, not on the first history request.
                await asyncio.to_thread(conn.execute, "SELECT value FROM meta LIMIT 1")
                self._read_conns.put(conn)
        except (sqlite3.Error, OSError) as exc:
            await self.close()
            raise StoreError(f"cannot open the message store {self._path}: {exc}") from exc
        self._running = True

    async def close(self) -> None:
        """Commit everything submitted, settle every future, and stop. Safe to call again."""
        if self._closing is not None:
            await asyncio.shield(self._closing)
            return
        self._closing = asyncio.get_running_loop().create_future()
        self._running = False
        if self._writer is not None:
            self._handoff()
            self._writer.stop()
            # Set after the writer's last on_batch was scheduled; both travel through
            # call_soon_threadsafe, first in first out, so every future is settled by now.
            await asyncio.wrap_future(self._writer.done)
        if self._checkpointer is not None:
            await asyncio.to_thread(self._checkpointer.stop)
        await asyncio.to_thread(self._readers.shutdown, wait=True)
        while not self._read_conns.empty():
            self._read_conns.get().close()
        if self._lock is not None:
            self._lock.release()
        if self._tempdir is not None:
            shutil.rmtree(self._tempdir, ignore_errors=True)
        self._closing.set_result(None)

    async def __aenter__(self) -> MessageStore:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def _writer_exited(self) -> None:
        self._running = False  # normally already so; not if the writer died of a bug

    # -- state -------------------------------------------------------------------------------

    @property
    def path(self) -> Path:
        """The database file (known once started, when the store was given none)."""
        if self._path is None:
            raise RuntimeError("the store has not been started")
        return self._path

    @property
    def last_id(self) -> int:
        """The highest id whose commit has reached the loop (the recovered one at start)."""
        return self._last_id

    @property
    def available(self) -> bool:
        """False from a failed commit until a later one succeeds (for health reporting)."""
        return self._available

    @property
    def pending(self) -> int:
        """Submissions not yet resolved (at most ``max_pending``)."""
        return self._outstanding

    # -- writing -----------------------------------------------------------------------------

    def submit(
        self,
        room: str,
        sender: str,
        sender_key: str,
        text: str,
        *,
        action: bool = False,
        client_id: str | None = None,
        ts: int | None = None,
        fresh_after: int = 0,
    ) -> asyncio.Future[AppendResult]:
        """Queue a message; the future resolves once it is durable (or was stored before).

        Not a coroutine: protocol callbacks call it. The future fails with
        :class:`StoreUnavailable` if the commit fails. Raises :class:`StoreBusy` at once when
        ``max_pending`` submissions are unresolved, :class:`StoreFull` when the store is at its
        size cap or the disk under its floor, :class:`StoreClosed` when not running.
        ``ts`` (ms since the epoch, UTC) defaults to now. A message already stored with the same
        ``client_id`` counts as a duplicate only if its id is above ``fresh_after`` (the first id
        of the sender's session: a name's earlier holder cannot pre-empt its client ids).
        Cancelling the future does not withdraw the message.
        """
        if not self._running:
            raise StoreClosed("the message store is not running")
        if not room:
            raise ValueError("the room must not be empty")  # retention walks rooms from ""
        if self._outstanding >= self._max_pending:
            raise StoreBusy(f"{self._outstanding} messages are waiting for the disk")
        problem = self._space.problem() if self._space is not None else None
        if problem is not None:
            raise StoreFull(problem)
        loop = self._loop
        assert loop is not None
        future: asyncio.Future[AppendResult] = loop.create_future()
        when = _now_ms() if ts is None else ts
        self._incoming.append(
            Submission(future, room, sender, sender_key, text, action, client_id, when, fresh_after)
        )
        self._outstanding += 1
        self._schedule_handoff()
        return future

    def _schedule_handoff(self) -> None:
        # One hand-off for all that came meanwhile, which reaches the writer as (part of) one
        # batch; what comes while the writer commits forms the next batch by itself. After a
        # quiet moment (no hand-off within QUIET_FACTOR delays) it is at the end of this turn,
        # so a lone message waits for nothing but its commit; while messages keep coming, the
        # coalescing delay after the first, so that they are committed in groups: of five
        # sent at once, the first would otherwise be committed alone and the other four in a
        # second commit, a second fsync and a second write to everyone.
        if self._handoff_scheduled:
            return
        loop = self._loop
        assert loop is not None
        self._handoff_scheduled = True
        quiet = loop.time() - self._last_handoff >= self._coalesce_delay * QUIET_FACTOR
        if self._coalesce_delay and not quiet:
            loop.call_later(self._coalesce_delay, self._handoff)
        else:
            loop.call_soon(self._handoff)

    def _handoff(self) -> None:
        self._handoff_scheduled = False
        assert self._loop is not None
        self._last_handoff = self._loop.time()
        incoming, self._incoming = self._incoming, []
        sessions, self._session_rows = self._session_rows, []
        if self._writer is not None:
            if sessions:
                self._writer.put_sessions(sessions, self._session_expiry_ms)
            if incoming:
                self._writer.put(incoming)

    # -- sessions ----------------------------------------------------------------------------

    def save_session(self, row: SessionRow, *, expire_before_ms: int) -> None:
        """Save a session (``key, name, token_hash, dm_floor, seen_ms``) with the next commit,
        and delete those last seen before ``expire_before_ms``. Fire and forget: a failure is
        logged by the writer; sessions are a convenience, not a promise."""
        if not self._running:
            return
        self._session_rows.append(row)
        self._session_expiry_ms = expire_before_ms
        self._schedule_handoff()

    async def load_sessions(self, seen_after_ms: int, limit: int) -> list[SessionRow]:
        """The ``limit`` most recently seen sessions seen after ``seen_after_ms``."""
        rows = await self._read_rows(sqlite_sql.LOAD_SESSIONS, (seen_after_ms, limit))
        return [(key, name, bytes(token), floor, seen) for key, name, token, floor, seen in rows]

    async def _read_rows(self, sql: str, args: tuple[str | int, ...]) -> list[Any]:
        if not self._running:
            raise StoreClosed("the message store is not running")
        assert self._loop is not None

        def query() -> list[Any]:
            conn = self._read_conns.get()
            try:
                return conn.execute(sql, args).fetchall()
            finally:
                self._read_conns.put(conn)

        try:
            return await self._loop.run_in_executor(self._readers, query)
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"cannot read: {exc}") from exc

    def _resolve(self, outcomes: Outcomes, ok: bool) -> None:
        # On the loop, once per batch.
        self._outstanding -= len(outcomes)
        self._available = ok
        if ok and self._checkpointer is not None:
            self._checkpointer.note_commit()
        for future, outcome in outcomes:
            if future.done():  # cancelled by its caller
                continue
            if isinstance(outcome, AppendResult):
                self._last_id = max(self._last_id, outcome.message.id)
                future.set_result(outcome)
            else:
                future.set_exception(outcome)

    # -- retention ---------------------------------------------------------------------------

    async def apply_retention(self, max_age_s: float | None, max_per_room: int | None) -> int:
        """Delete messages older than ``max_age_s`` seconds, and all but the ``max_per_room``
        newest of each room (``None``: no such limit); return how many were deleted.

        Runs on the writer thread in steps of at most ``retention_chunk`` rows, one short
        transaction each, committing waiting messages between steps: it never stalls writes.
        The id high-water mark is kept, so ids are not reused even if every row goes. A resend
        whose original was deleted is stored again as a new message.
        """
        if min(max_age_s or 0, max_per_room or 0) < 0:
            raise ValueError("retention limits must not be negative")
        if not self._running or self._writer is None:
            raise StoreClosed("the message store is not running")
        cutoff = None if max_age_s is None else _now_ms() - int(max_age_s * 1000)
        job = RetentionJob(cutoff, max_per_room, asyncio.get_running_loop().create_future())
        self._writer.add_job(job)
        return await job.future

    # -- reading -----------------------------------------------------------------------------

    async def recent(self, room: str, limit: int) -> list[StoredMessage]:
        """The last ``limit`` messages of ``room``, oldest first."""
        return await self._page(PageQuery(room, 0, _ABOVE_ALL, self._limit(limit), newest=True))

    async def before(self, room: str, before_id: int, limit: int) -> list[StoredMessage]:
        """The last ``limit`` messages of ``room`` with ids below ``before_id``, oldest first
        (paging back)."""
        return await self._page(PageQuery(room, 0, before_id, self._limit(limit), newest=True))

    async def after(self, room: str, after_id: int, limit: int) -> list[StoredMessage]:
        """The first ``limit`` messages of ``room`` with ids above ``after_id``, oldest first
        (paging forward; the replay for a reconnecting client)."""
        query = PageQuery(room, after_id, _ABOVE_ALL, self._limit(limit), newest=False)
        return await self._page(query)

    async def _page(self, query: PageQuery) -> list[StoredMessage]:
        (page,) = await self.pages([query])
        return page

    def pages(self, queries: list[PageQuery]) -> asyncio.Future[list[list[StoredMessage]]]:
        """Read several pages in one trip to a read thread; each oldest first.

        Not a coroutine, so protocol callbacks can call it and attach a done-callback (no task
        per request). Each page may hold up to ``max_history + 1`` messages: the caller asks for
        one more than it shows, to know whether there are more. The future fails with
        :class:`StoreUnavailable` if the read fails.
        """
        if not self._running:
            raise StoreClosed("the message store is not running")
        for query in queries:
            if not 0 <= query.limit <= self.max_history + 1:
                raise ValueError(f"limit must be 0 to {self.max_history + 1}, got {query.limit}")
        assert self._loop is not None
        return asyncio.wrap_future(
            self._readers.submit(self._query_pages, queries), loop=self._loop
        )

    def _query_pages(self, queries: list[PageQuery]) -> list[list[StoredMessage]]:
        # On a read thread. Each SELECT is its own read transaction: it sees a consistent
        # snapshot of what was committed when it began, and blocks neither the writer nor the
        # checkpointer for longer than the query itself.
        conn = self._read_conns.get()
        try:
            pages = []
            for query in queries:
                if query.dm_of is not None:
                    sql = sqlite_sql.PAGE_DM_DESC if query.newest else sqlite_sql.PAGE_DM_ASC
                    args: tuple[str | int, ...] = (query.dm_of,)
                else:
                    sql = sqlite_sql.PAGE_ROOM_DESC if query.newest else sqlite_sql.PAGE_ROOM_ASC
                    args = (query.room,)
                args += (query.above, query.below, query.limit)
                try:
                    rows = conn.execute(sql, args).fetchall()
                except sqlite3.Error as exc:
                    raise StoreUnavailable(f"cannot read history: {exc}") from exc
                if query.newest:
                    rows.reverse()
                pages.append([StoredMessage.from_row(row) for row in rows])
            return pages
        finally:
            self._read_conns.put(conn)

    def _limit(self, limit: int) -> int:
        if not 0 <= limit <= self.max_history:
            raise ValueError(f"limit must be 0 to {self.max_history}, got {limit}")
        return limit
