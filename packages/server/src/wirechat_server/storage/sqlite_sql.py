"""Everything the message store says to SQLite: the schema, how connections open, the queries.

Only :mod:`wirechat_server.storage.sqlite` and its threads use this module. It deals in plain
row tuples (:data:`Row`) so that it needs nothing from the store; it never touches asyncio or
threads, and every function here runs on whichever thread owns the connection it is given.

Schema (version 2)::

    meta(key TEXT PRIMARY KEY, value INTEGER)       'schema_version', 'last_id'
    messages(id INTEGER PRIMARY KEY, ts, room, sender, sender_key, text, action, client_id)
        index (room, id)                            history pages and reconnect replay
        unique index (sender_key, client_id)        idempotent resend; partial: client_id set
    sessions(key TEXT PRIMARY KEY, name, token_hash, dm_floor, seen)      (since version 2)
        index (seen)                                expiry
    dm_rooms(key, room, PRIMARY KEY (key, room))    a user's direct conversations (since 2)

``meta.last_id`` is the id high-water mark, written in the same transaction as the messages. It is
needed because retention may delete a room's newest rows, even every row, and ids must never be
handed out twice, not even after a restart: a client that remembers id 5000 asks for what came
after 5000, and a reused id would hide new messages from it.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Final, Literal

Synchronous = Literal["FULL", "NORMAL"]

SCHEMA_VERSION: Final = 2

COLUMNS: Final = "id, ts, room, sender, sender_key, text, action, client_id"

#: Page cache of each read connection, in KiB.
READ_CACHE_KIB: Final = 512

#: How long a connection waits for SQLite's write lock (or a checkpoint) before failing. Only the
#: store's own writer thread writes, so this covers outside tools (a backup, the sqlite3 shell).
BUSY_TIMEOUT_MS: Final = 5000

#: WAL pages past which the writer checkpoints by itself, inside a commit. Normally the store's
#: checkpoint thread (:mod:`.sqlite_checkpoint`) keeps the WAL far below this, off the commit
#: path; this only bounds the file if that thread cannot keep up (SQLite's default is 1,000).
WRITER_AUTOCHECKPOINT_PAGES: Final = 10_000

#: The WAL is truncated back to this size after a checkpoint, so one burst does not leave a huge
#: file behind (without a limit the WAL keeps its largest size for good).
JOURNAL_SIZE_LIMIT: Final = 16 * 1024 * 1024

_SCHEMA_V1: Final = (
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID",
    # INTEGER PRIMARY KEY makes id the rowid: rows are stored in id order, so history is a range
    # scan. The writer supplies the ids from its counter rather than using AUTOINCREMENT, which
    # would read and rewrite sqlite_sequence on every insert; the counter's high-water mark is
    # saved once per batch in meta.last_id instead.
    """CREATE TABLE messages (
        id         INTEGER PRIMARY KEY,
        ts         INTEGER NOT NULL,
        room       TEXT NOT NULL,
        sender     TEXT NOT NULL,
        sender_key TEXT NOT NULL,
        text       TEXT NOT NULL,
        action     INTEGER NOT NULL,
        client_id  TEXT
    )""",
    "CREATE INDEX messages_room_id ON messages (room, id)",
    # Partial: most messages have no client id, and they need no entry.
    """CREATE UNIQUE INDEX messages_client_id ON messages (sender_key, client_id)
        WHERE client_id IS NOT NULL""",
    "INSERT INTO meta (key, value) VALUES ('schema_version', 1), ('last_id', 0)",
)

# Version 2: sessions, so that a user's session (its token, as a SHA-256 hash, and the first
# direct message it may read) outlives a restart.
_SCHEMA_V2: Final = (
    """CREATE TABLE sessions (
        key        TEXT PRIMARY KEY,
        name       TEXT NOT NULL,
        token_hash BLOB NOT NULL,
        dm_floor   INTEGER NOT NULL,
        seen       INTEGER NOT NULL
    ) WITHOUT ROWID""",
    "CREATE INDEX sessions_seen ON sessions (seen)",
    # Who is in which direct conversation, so that "all of one's direct messages" reads only
    # that user's conversations (through the (room, id) index), not every message stored.
    """CREATE TABLE dm_rooms (
        key  TEXT NOT NULL,
        room TEXT NOT NULL,
        PRIMARY KEY (key, room)
    ) WITHOUT ROWID""",
    """INSERT OR IGNORE INTO dm_rooms (key, room)
        SELECT substr(room, 2, instr(room, ':') - 2), room FROM messages WHERE room GLOB '@*'
        UNION SELECT substr(room, instr(room, ':') + 1), room FROM messages WHERE room GLOB '@*'""",
    "UPDATE meta SET value = 2 WHERE key = 'schema_version'",
)

SAVE_SESSION: Final = """INSERT INTO sessions (key, name, token_hash, dm_floor, seen)
    VALUES (?, ?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET name = excluded.name,
    token_hash = excluded.token_hash, dm_floor = excluded.dm_floor, seen = excluded.seen"""
EXPIRE_SESSIONS: Final = "DELETE FROM sessions WHERE seen < ?"
LOAD_SESSIONS: Final = """SELECT key, name, token_hash, dm_floor, seen FROM sessions
    WHERE seen >= ? ORDER BY seen DESC LIMIT ?"""

INSERT: Final = f"INSERT INTO messages ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
FIND_CLIENT_ID: Final = f"SELECT {COLUMNS} FROM messages WHERE sender_key = ? AND client_id = ?"
FORGET_CLIENT_ID: Final = "UPDATE messages SET client_id = NULL WHERE id = ?"
SET_LAST_ID: Final = "UPDATE meta SET value = ? WHERE key = 'last_id'"

# History pages (the newest-first ones are reversed by the caller: pages are returned oldest
# first), with both bounds: ``id > low AND id < high``. A page of all of one user's direct
# messages reads that user's conversations from dm_rooms, each through the (room, id) index.
PAGE_ROOM_DESC: Final = (
    f"SELECT {COLUMNS} FROM messages WHERE room = ? AND id > ? AND id < ? ORDER BY id DESC LIMIT ?"
)
PAGE_ROOM_ASC: Final = (
    f"SELECT {COLUMNS} FROM messages WHERE room = ? AND id > ? AND id < ? ORDER BY id LIMIT ?"
)
_DM_OF = "room IN (SELECT room FROM dm_rooms WHERE key = ?)"
PAGE_DM_DESC: Final = (
    f"SELECT {COLUMNS} FROM messages WHERE {_DM_OF} AND id > ? AND id < ? ORDER BY id DESC LIMIT ?"
)
PAGE_DM_ASC: Final = (
    f"SELECT {COLUMNS} FROM messages WHERE {_DM_OF} AND id > ? AND id < ? ORDER BY id LIMIT ?"
)
ADD_DM_ROOM: Final = "INSERT OR IGNORE INTO dm_rooms (key, room) VALUES (?, ?)"

# Retention. Rows are read in rowid (= id) order, which needs no index on ts: ids follow time.
_OLDEST: Final = "SELECT id, ts FROM messages WHERE id > ? ORDER BY id LIMIT ?"
_DELETE_ID: Final = "DELETE FROM messages WHERE id = ?"
# The next room after a given one: one index seek per room, instead of a DISTINCT that would
# walk every row of the index.
_NEXT_ROOM: Final = "SELECT MIN(room) FROM messages WHERE room > ?"
_NTH_NEWEST: Final = "SELECT id FROM messages WHERE room = ? ORDER BY id DESC LIMIT 1 OFFSET ?"
_DELETE_UP_TO: Final = """DELETE FROM messages WHERE id IN
    (SELECT id FROM messages WHERE room = ? AND id <= ? ORDER BY id LIMIT ?)"""
#: Rooms a retention step looks at when they need no pruning, so that a step stays short even
#: with many small rooms.
ROOMS_PER_STEP: Final = 64


def connect(
    path: Path, *, synchronous: Synchronous, query_only: bool = False
) -> sqlite3.Connection:
    """Open ``path`` with the store's settings.

    ``isolation_level=None`` leaves transactions to us (explicit ``BEGIN IMMEDIATE`` /
    ``COMMIT``): the sqlite3 module's implicit transactions would make batch boundaries guesswork.
    ``check_same_thread=False`` because read connections are shared by a pool of threads; the
    pool hands each to one thread at a time.
    """
    if synchronous not in ("FULL", "NORMAL"):
        raise ValueError(f"synchronous must be FULL or NORMAL, got {synchronous!r}")
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        if query_only:
            conn.execute("PRAGMA query_only = ON")
            # History pages are small and recent (hot in the OS page cache anyway); SQLite's
            # default 2 MiB cache per read connection would be most of the store's memory.
            conn.execute(f"PRAGMA cache_size = -{READ_CACHE_KIB}")
        else:
            conn.execute(f"PRAGMA synchronous = {synchronous}")
            conn.execute(f"PRAGMA journal_size_limit = {JOURNAL_SIZE_LIMIT}")
    except BaseException:
        conn.close()
        raise
    return conn


def open_writer(path: Path, *, synchronous: Synchronous) -> tuple[sqlite3.Connection, int]:
    """Open (creating or upgrading if needed) the database for writing; return it and the last id.

    Raises :class:`sqlite3.DatabaseError` for a file that is not a wirechat store, or one written
    by a newer schema version.
    """
    conn = connect(path, synchronous=synchronous)
    try:
        # WAL lets readers run while the writer commits, and commits append to one file, one
        # fsync each. The mode is stored in the file: readers opened later get it too.
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if mode != "wal":
            raise sqlite3.DatabaseError(f"cannot use WAL mode on {path} (got {mode!r})")
        conn.execute(f"PRAGMA wal_autocheckpoint = {WRITER_AUTOCHECKPOINT_PAGES}")
        with transaction(conn):
            _migrate(conn, path)
            last_id = max(
                conn.execute("SELECT value FROM meta WHERE key = 'last_id'").fetchone()[0],
                conn.execute("SELECT COALESCE(MAX(id), 0) FROM messages").fetchone()[0],
            )
    except BaseException:
        conn.close()
        raise
    return conn, int(last_id)


def _migrate(conn: sqlite3.Connection, path: Path) -> None:
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if not tables:
        for statement in (*_SCHEMA_V1, *_SCHEMA_V2):
            conn.execute(statement)
        return
    if "meta" not in tables or "messages" not in tables:
        raise sqlite3.DatabaseError(f"{path} is not a wirechat message store")
    (version,) = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    if version > SCHEMA_VERSION:
        raise sqlite3.DatabaseError(
            f"{path} has schema version {version}; this server knows up to {SCHEMA_VERSION}"
        )
    # Each version's upgrade steps, in this same transaction.
    if version < 2:
        for statement in _SCHEMA_V2:
            conn.execute(statement)


@contextlib.contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """One write transaction: committed at the end, rolled back entirely on any error.

    ``BEGIN IMMEDIATE`` takes the write lock at once, so a conflict shows at the start and not
    halfway through a batch.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        rollback(conn)
        raise


def rollback(conn: sqlite3.Connection) -> None:
    """Roll back whatever is open, if anything. After an I/O error SQLite may have done it already
    (its docs: the transaction "may or may not" be rolled back), hence the check."""
    if conn.in_transaction:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")


def integrity_check(conn: sqlite3.Connection) -> str:
    """``PRAGMA integrity_check``'s verdict: ``"ok"`` or the problems, one per line."""
    return "\n".join(str(row[0]) for row in conn.execute("PRAGMA integrity_check"))


def retention_steps(
    conn: sqlite3.Connection, *, cutoff_ms: int | None, max_per_room: int | None, chunk: int
) -> Iterator[int]:
    """Delete what retention drops, one short transaction per step; yield the rows each deleted.

    The caller runs one step at a time and commits waiting messages between steps, so retention
    never holds the write lock for more than one step of at most ``chunk`` deletions.
    """
    if cutoff_ms is not None:
        after_id = 0
        while True:
            with transaction(conn):
                rows = conn.execute(_OLDEST, (after_id, chunk)).fetchall()
                old = [(id_,) for id_, ts in rows if ts < cutoff_ms]
                conn.executemany(_DELETE_ID, old)
            yield len(old)
            # Ids follow time, so the first young message ends the scan (give or take clock
            # steps: a message stamped out of order is caught by a later run).
            if len(rows) < chunk or len(old) < len(rows):
                break
            after_id = rows[-1][0]
    if max_per_room is not None:
        after_room = ""  # room names are not empty, so every room sorts after ""
        finished = False
        while not finished:
            deleted = 0
            with transaction(conn):
                for _ in range(ROOMS_PER_STEP):
                    (room,) = conn.execute(_NEXT_ROOM, (after_room,)).fetchone()
                    if room is None:
                        finished = True
                        break
                    keep_from = conn.execute(_NTH_NEWEST, (room, max_per_room)).fetchone()
                    if keep_from is not None:
                        limit = chunk - deleted
                        deleted += conn.execute(_DELETE_UP_TO, (room, keep_from[0], limit)).rowcount
                        if deleted >= chunk:
                            break  # this room may have more to drop: the next step returns to it
                    after_room = room
            yield deleted


def checkpoint(conn: sqlite3.Connection) -> tuple[int, int]:
    """A passive checkpoint: copy what it can of the WAL into the database, waiting for nobody.
    Returns (pages in the WAL, pages copied so far)."""
    busy, wal_pages, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    del busy  # PASSIVE never waits, so it is never busy
    return int(wal_pages), int(copied)
