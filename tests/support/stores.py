"""Shared by the message-store tests: open a store, say something, look at the file directly."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Final

from wirechat_server.storage.sqlite import AppendResult, MessageStore

#: The child process the kill -9 and file-size tests run a store in.
CHILD: Final = Path(__file__).with_name("store_child.py")
#: How long a test waits for something that should take milliseconds.
WAIT: Final = 5.0


@contextlib.asynccontextmanager
async def opened(path: Path | None, **settings: Any) -> AsyncIterator[MessageStore]:
    store = MessageStore(path, **settings)
    await store.start()
    try:
        yield store
    finally:
        await store.close()


def say(
    store: MessageStore, text: str, *, room: str = "#a", sender: str = "Alice", **kw: Any
) -> asyncio.Future[AppendResult]:
    return store.submit(room, sender, sender.lower(), text, **kw)


def stored(
    path: Path, sql: str = "SELECT id, room, text, client_id FROM messages ORDER BY id"
) -> list[tuple[Any, ...]]:
    """What is on disk, read by a connection of the test's own."""
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def healthy(store: MessageStore) -> bool:
    # A function, not the property inline: mypy would carry an earlier assert's narrowing over.
    return store.available


def integrity(path: Path) -> str:
    return str(stored(path, "PRAGMA integrity_check")[0][0])
