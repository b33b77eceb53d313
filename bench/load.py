"""The load generator: many clients on one asyncio loop, counting what they receive.

Clients are bare ``asyncio.Protocol`` objects (no streams, no task per client) so that the
generator stays cheap next to the server it measures. A delivery is counted by counting
:data:`~bench.dialects.MARK` bytes in each received chunk, with no parsing, except on the few
clients that sample latency or pace a sender.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import Sequence
from typing import Final, cast

from .dialects import MARK, Dialect, payload

#: Clients connecting at once, unless the peer needs fewer (ngIRCd listens with a backlog of 10).
CONNECT_BATCH: Final = 100
READY_TIMEOUT: Final = 30.0

_SENT_AT: Final = re.compile(rb"\|\d+ T(\d+) ")


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
        self.delivered = 0
        # Reads that carried data. Deliveries per read show how well the server gathered its
        # writes, as long as the generator keeps up: when it falls behind, the kernel merges
        # writes too, so under saturation the figure says more about the generator.
        self.chunks = 0
        # Witness role: counts one sender's messages, so the sender can bound what is in flight.
        self.watch: bytes | None = None
        self.watched = 0
        self._tail = b""
        self.progress = asyncio.Event()
        # Timing role: records send-to-receive latency of every message it gets.
        self.latencies: list[int] | None = None
        self._partial = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast("asyncio.Transport", transport)
        self.transport.write(self.dialect.register(self.nick))

    def data_received(self, data: bytes) -> None:
        if not self.ready.done():
            # Search the new data plus just enough of the old to catch a marker split in two.
            if self._marker in self._setup + data:
                self.ready.set_result(None)
            self._setup = data[-len(self._marker) :]
        self.delivered += data.count(MARK)
        self.chunks += 1
        if b"ing" in data:  # cheap pre-check for "ping"/"PING" before the dialect looks
            pong = self.dialect.pong_for(data)
            if pong and self.transport is not None:
                self.transport.write(pong)
        if self.watch is not None:
            joined = self._tail + data
            self.watched += joined.count(self.watch)
            self._tail = data[-(len(self.watch) - 1) :]
            self.progress.set()
        if self.latencies is not None:
            now = time.perf_counter_ns()
            lines = (self._partial + data).split(b"\n")
            self._partial = lines.pop()
            for line in lines:
                found = _SENT_AT.search(line)
                if found:
                    self.latencies.append(now - int(found.group(1)))

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.ready.done():
            self.ready.set_exception(ConnectionError("closed before registering"))
        if not self.lost.done():
            self.lost.set_result(None)
        self.progress.set()

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


class Sender:
    """Sends chat lines from one client, either as fast as a window allows or at a fixed rate."""

    def __init__(self, client: Client, index: int, witness: Client, size: int) -> None:
        self.client = client
        self.index = index
        self.witness = witness
        self.size = size
        self.sent = 0
        witness.watch = f"S{index}|".encode()

    def _lines(self, count: int) -> bytes:
        now = time.perf_counter_ns()
        say = self.client.dialect.say
        lines = [say(payload(self.index, self.sent + k, now, self.size)) for k in range(count)]
        self.sent += count
        return b"".join(lines)

    async def saturate(self, until: float, window: int) -> None:
        """Keep at most ``window`` messages in flight (sent, not yet seen by the witness)."""
        transport = self.client.transport
        assert transport is not None
        loop = asyncio.get_running_loop()
        while loop.time() < until and not self.client.lost.done():
            room = window - (self.sent - self.witness.watched)
            if room >= window // 4:
                transport.write(self._lines(min(room, 64)))
            else:
                self.witness.progress.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.witness.progress.wait(), 1.0)

    async def paced(self, until: float, per_second: float) -> None:
        """Send one message every ``1 / per_second`` seconds."""
        transport = self.client.transport
        assert transport is not None
        loop = asyncio.get_running_loop()
        interval = 1.0 / per_second
        next_at = loop.time()
        while next_at < until and not self.client.lost.done():
            transport.write(self._lines(1))
            next_at += interval
            await asyncio.sleep(max(0.0, next_at - loop.time()))


async def drain(receivers: Sequence[Client], expected: int, quiet: float = 2.0) -> int:
    """Wait until receivers got ``expected`` deliveries or nothing arrived for ``quiet`` s."""
    last = -1
    last_change = time.monotonic()
    while True:
        total = sum(client.delivered for client in receivers)
        if total >= expected:
            return total
        if total != last:
            last, last_change = total, time.monotonic()
        elif time.monotonic() - last_change > quiet:
            return total
        await asyncio.sleep(0.05)
