"""The message store's vocabulary: stored messages, append results, errors, conversation keys.

Import these from :mod:`wirechat_server.storage.sqlite`, which re-exports them. Exceptions::

    StoreError                   anything the store raises on purpose
    ├── StoreUnavailable         storage failed (disk full, I/O error): nothing of it was stored
    │   └── StoreClosed          the store is not running (not started, or closed)
    └── StoreBusy                too many submissions wait for the disk: refused at once

Bad arguments (a history ``limit`` past ``max_history``, a negative retention limit) raise
:class:`ValueError`.
"""

from __future__ import annotations

from dataclasses import dataclass

#: One stored message, in the column order of ``sqlite_sql.COLUMNS``.
Row = tuple[int, int, str, str, str, str, int, str | None]

#: One saved session, in the column order of the sessions table: (name key, name, token hash,
#: first direct-message id it may read, last seen in ms since the epoch).
SessionRow = tuple[str, str, bytes, int, int]


class StoreError(Exception):
    """Base of the store's own errors."""


class StoreUnavailable(StoreError):  # noqa: N818 - named for what the client is told
    """Storage failed and nothing was stored; the core answers ``storage_unavailable``."""


class StoreClosed(StoreUnavailable):
    """The store is not running: not started yet, or closed."""


class StoreFull(StoreError):  # noqa: N818 - named for what the client is told
    """The store is at its size cap or the disk under its free-space floor; new messages are
    refused (``storage_full``), reading goes on."""


class StoreBusy(StoreError):  # noqa: N818 - named for what the client is told
    """Too many submissions wait for the disk (``max_pending``); the core answers ``busy``."""


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """One message as stored: what history returns and what the core fans out."""

    id: int  # server-assigned, strictly increasing across all rooms, never reused
    ts: int  # ms since the Unix epoch, UTC
    room: str  # a room name, or a conversation key from dm_room()
    sender: str  # display name
    sender_key: str  # the sender's name key (case-folded)
    text: str
    action: bool
    client_id: str | None

    @classmethod
    def from_row(cls, row: Row) -> StoredMessage:
        id_, ts, room, sender, sender_key, text, action, client_id = row
        return cls(id_, ts, room, sender, sender_key, text, bool(action), client_id)


@dataclass(frozen=True, slots=True)
class AppendResult:
    """What became of a submission: the stored message, and whether it had been stored before.

    ``duplicate`` is true when the same sender had already sent the same ``client_id`` within the
    idempotency window. ``message`` is then the original (first wins, whatever the new text or
    room) and nothing new was stored: the core acks it again but must not fan it out again.
    """

    message: StoredMessage
    duplicate: bool


@dataclass(frozen=True, slots=True)
class PageQuery:
    """One history page: messages of ``room`` (or, with ``dm_of``, every direct message of that
    name key) with ``above < id < below``, the newest ``limit`` of them if ``newest`` else the
    oldest; returned oldest first either way."""

    room: str
    above: int
    below: int
    limit: int
    newest: bool
    dm_of: str | None = None


def dm_room(a_key: str, b_key: str) -> str:
    """The conversation key of the direct messages between two name keys: ``"@alice:bob"``.

    Symmetric (the keys are sorted). Name keys never contain ``:`` or ``@``, so the key splits
    back unambiguously, and it cannot clash with a room as long as room names cannot start with
    ``@``.
    """
    for key in (a_key, b_key):
        if not key or ":" in key or "@" in key:
            raise ValueError(f"not a name key: {key!r}")
    low, high = sorted((a_key, b_key))
    return f"@{low}:{high}"


def dm_members(room: str) -> tuple[str, str] | None:
    """The two name keys in a conversation key from :func:`dm_room`; ``None`` for a room."""
    if not room.startswith("@"):
        return None
    low, _, high = room[1:].partition(":")
    return low, high
