"""Idle clients: many connections on one asyncio loop that register and then only answer pings.

Clients are bare ``asyncio.Protocol`` objects (no streams, no task per client) so that holding
10,000 of them stays cheap. The fan-out scenarios, where the generator's own speed matters,
use the C generator instead (:mod:`.cgen`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Final, cast

from .dialects import Dialect

#: Clients connecting at once, unless the peer needs fewer (ngIRCd listens with a backlog of 10).
CONNECT_BATCH: Final = 100
READY_TIMEOUT: Final = 30.0


class Client(asyncio.Protocol):
    """One connection of the generator."""

    def __init__(self, dialect: Dialect, nick: str) -> None:
        self.dialect = dialect
        self.nick = nick
        self.transport: asyncio.Transport | None = None
        loop = asyncio.get_running_loop()
        self.ready: asyncio.Future[None] = loop.create_future()
        self.lost: asyncio.Future[None] = loop.create_future()
        self._marker = dialect.ready_marker()
        self._setup = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast("asyncio.Transport", transport)
        self.transport.write(self.dialect.register(self.nick))

    def data_received(self, data: bytes) -> None:
        if not self.ready.done():
            # Search the new data plus just enough of the old to catch a marker split in two.
            if self._marker in self._setup + data:
                self.ready.set_result(None)
            self._setup = data[-len(self._marker) :]
        if b"ing" in data:  # cheap pre-check for "ping"/"PING" before the dialect looks
            pong = self.dialect.pong_for(data)
            if pong and self.transport is not None:
                self.transport.write(pong)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.ready.done():
            self.ready.set_exception(ConnectionError("closed before registering"))
        if not self.lost.done():
            self.lost.set_result(None)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.abort()


async def connect_all(
    port: int, dialect: Dialect, nicks: Sequence[str], batch_size: int = CONNECT_BATCH
) -> tuple[list[Client], int]:
    """Connect and register ``nicks`` in small batches; return the clients and how many failed."""
    loop = asyncio.get_running_loop()
    clients: list[Client] = []
    failed = 0

    async def one(nick: str) -> Client | None:
        try:
            _, client = await asyncio.wait_for(
                loop.create_connection(lambda: Client(dialect, nick), "127.0.0.1", port),
                READY_TIMEOUT,
            )
            await asyncio.wait_for(client.ready, READY_TIMEOUT)
        except (OSError, TimeoutError, ConnectionError):
            return None
        return client

    for start in range(0, len(nicks), batch_size):
        batch = await asyncio.gather(*(one(nick) for nick in nicks[start : start + batch_size]))
        for client in batch:
            if client is None:
                failed += 1
            else:
                clients.append(client)
    return clients, failed
