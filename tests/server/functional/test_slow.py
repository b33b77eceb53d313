"""Slow consumers (C1): a reader that stops reading is cut off, never waited for.

The non-reader is a raw socket with a small ``SO_RCVBUF`` that nobody reads, so the kernel
buffers fill and the server's own output buffer for it grows. The others must keep receiving
everything, in order, and the server must stay responsive.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import AsyncIterator

import pytest

from tests.support.net import WAIT, Listener, NativeClient, NonReader, PlainClient, running_server
from wirechat_common import Ack, LeaveReason, Say, Users, Welcome, Who
from wirechat_server.connection import REQUESTS_PER_TURN, Connection
from wirechat_server.server import ChatServer

KIB = 1024
TEXT = "x" * KIB
BATCH = 32  # messages per write: bounded bursts, so the readers who do read keep up
_MESSAGE_IDS = itertools.count()
MAX_MESSAGES = 8000  # 8 MiB: twice what the kernel can absorb for a non-reader (4 MiB wmem)
REQUESTS = 5 * REQUESTS_PER_TURN + 7  # pipelined in one write


@pytest.fixture
async def slow_server() -> AsyncIterator[ChatServer]:
    async with running_server(msg_rate=0, max_output_buffer=64 * KIB) as server:
        yield server


async def push_until(sender: NativeClient, done: asyncio.Event, limit: int = MAX_MESSAGES) -> int:
    """Send 1 KiB messages in acknowledged batches until ``done`` is set; return how many."""
    sent = 0
    while not done.is_set() and sent < limit:
        # Unique ids: a client_id seen before is a resend, acked again but not relayed.
        ids = [f"m{next(_MESSAGE_IDS)}" for _ in range(BATCH)]
        await sender.send(*(Say(text=TEXT, client_id=client_id) for client_id in ids))
        acks = await sender.collect(Ack, BATCH)
        assert [ack.client_id for ack in acks] == ids
        sent += BATCH
    return sent


async def fill_server_buffer(
    server: ChatServer, name: str, sender: NativeClient
) -> tuple[Connection, int]:
    """Push messages until the kernel buffers toward ``name`` are full and output waits in the
    server's own buffer; return ``name``'s connection and how many messages were sent."""
    (connection,) = [c for c in server.connections if c.name == name]
    assert connection.transport is not None
    sent = 0
    while connection.transport.get_write_buffer_size() == 0:
        assert sent < MAX_MESSAGES, "the kernel absorbed 8 MiB for a non-reader"
        sent += await push_until(sender, asyncio.Event(), limit=BATCH)
    return connection, sent


@pytest.mark.parametrize("plain", [False, True], ids=["native", "plain"])
async def test_non_reader_is_cut_as_too_slow_and_nobody_else_loses_anything(
    slow_server: ChatServer, plain: bool
) -> None:
    server = slow_server
    observer = await NativeClient.connect(server, "observer")
    plain_observer = await PlainClient.connect(server, "plain-observer")
    counter = Listener(observer)
    slow = await NonReader.connect(server, "slow", plain=plain)
    sender = await NativeClient.connect(server, "sender")

    sent = await push_until(sender, counter.left_event)
    assert counter.left_event.is_set(), f"{sent} KiB sent and the non-reader is still in"
    assert [(left.name, left.reason) for left in counter.left] == [("slow", LeaveReason.TOO_SLOW)]
    # It took more than the output limit (and the kernel buffers) to get there, not less.
    assert sent * KIB > 64 * KIB

    # The control reader got every message, in order, with no gap: barrier, then count.
    await counter.finish()
    assert len(counter.messages) == sent
    ids = [message.id for message in counter.messages]
    assert ids == list(range(ids[0], ids[0] + sent))
    assert {message.text for message in counter.messages} == {TEXT}
    # So did the plain-text one, who also heard why the non-reader went.
    lines = 0
    while True:
        line = await plain_observer.recv_line()
        if line.startswith("slow left"):
            assert line == "slow left the conversation (too slow to keep up)"
            break
        lines += line == f"sender: {TEXT}"
    while lines < sent:
        assert await plain_observer.recv_line() == f"sender: {TEXT}"
        lines += 1

    # The server is still responsive, forgot the non-reader, and its name is free again.
    await sender.sync()
    assert server.core.users() == ["observer", "plain-observer", "sender"]
    assert all(connection.name != "slow" for connection in server.connections)
    again = await NativeClient.connect(server, "slow")
    assert again.welcome is not None
    slow.close()
    for client in (observer, sender, again):
        await client.close()
    await plain_observer.close()


async def test_output_that_does_not_drain_for_write_timeout_is_too_slow(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="wirechat.server")
    # A byte limit far out of reach: only the write deadline can cut the non-reader.
    async with running_server(
        msg_rate=0, max_output_buffer=64 * 1024 * KIB, write_timeout=0.3
    ) as server:
        observer = await NativeClient.connect(server, "observer")
        counter = Listener(observer)
        slow = await NonReader.connect(server, "slow")
        sender = await NativeClient.connect(server, "sender")
        await sender.sync()
        _, sent = await fill_server_buffer(server, "slow", sender)
        assert not counter.left_event.is_set()

        # Now nothing more is sent: the output stays stuck and the write deadline cuts it.
        stuck_at = time.monotonic()
        async with asyncio.timeout(WAIT):
            await counter.left_event.wait()
        waited = time.monotonic() - stuck_at
        assert [(left.name, left.reason) for left in counter.left] == [
            ("slow", LeaveReason.TOO_SLOW)
        ]
        assert waited >= 0.15, f"cut after {waited:.2f} s: not the write deadline"
        assert any("did not drain" in record.getMessage() for record in caplog.records)
        assert not any("max_output_buffer" in record.getMessage() for record in caplog.records)
        await counter.finish()
        assert len(counter.messages) == sent
        slow.close()
        await observer.close()
        await sender.close()


async def test_output_the_kernel_holds_without_draining_is_too_slow() -> None:
    # Everything sent fits in the kernel's send buffer, so the server's own buffer stays
    # empty: only the kernel can tell the write deadline that the client reads nothing.
    async with running_server(
        msg_rate=0, write_timeout=0.3, socket_send_buffer=256 * KIB
    ) as server:
        observer = await NativeClient.connect(server, "observer")
        counter = Listener(observer)
        slow = await NonReader.connect(server, "slow")
        sender = await NativeClient.connect(server, "sender")
        await sender.sync()
        for index in range(20):
            await sender.send(Say(text=f"{index} " + "k" * 1000, client_id=f"k{index}"))
        await sender.collect(Ack, 20)
        [connection] = [c for c in server.connections if c.name == "slow"]
        assert connection.transport is not None
        assert connection.transport.get_write_buffer_size() == 0  # all of it in the kernel
        async with asyncio.timeout(WAIT):
            await counter.left_event.wait()
        assert [(left.name, left.reason) for left in counter.left] == [
            ("slow", LeaveReason.TOO_SLOW)
        ]
        slow.close()
        await counter.finish()
        await observer.close()
        await sender.close()


async def test_reader_that_keeps_up_is_never_cut(slow_server: ChatServer) -> None:
    """The limit is on what is owed, not on volume: 4 MiB to a reader that reads is fine."""
    reader = await NativeClient.connect(slow_server, "reader")
    counter = Listener(reader)
    sender = await NativeClient.connect(slow_server, "sender")
    sent = await push_until(sender, counter.left_event, limit=4000)
    assert sent == 4000
    await counter.finish()
    assert len(counter.messages) == 4000
    assert counter.left == []
    welcome = await NativeClient.connect(slow_server, "late")
    assert isinstance(welcome.welcome, Welcome)
    assert welcome.welcome.users == ["late", "reader", "sender"]
    for client in (reader, sender, welcome):
        await client.close()


async def test_client_that_never_reads_its_own_replies_is_cut() -> None:
    """A client cannot make the server queue replies it does not read: asking ``who`` over and
    over without reading gets its requests paused, then the client cut as too slow."""
    async with running_server(msg_rate=0, write_timeout=0.5) as server:
        observer = await NativeClient.connect(server, "observer")
        counter = Listener(observer)
        spammer = await NonReader.connect(server, "spammer")
        loop = asyncio.get_running_loop()
        requests = b'{"type":"who"}\n' * 4096

        async def spam() -> None:
            # Blocks once the server stops reading; ends when the server cuts the connection.
            with contextlib.suppress(ConnectionError):
                while True:
                    await loop.sock_sendall(spammer.sock, requests)

        spamming = asyncio.create_task(spam())
        async with asyncio.timeout(WAIT):
            await counter.left_event.wait()
        assert [(left.name, left.reason) for left in counter.left] == [
            ("spammer", LeaveReason.TOO_SLOW)
        ]
        async with asyncio.timeout(WAIT):
            await spamming
        await counter.finish()
        assert server.core.users() == ["observer"]
        spammer.close()
        await observer.close()


async def test_pipelined_requests_without_reading_never_stall_the_others(
    server_writes: dict[str, list[bytes]],
) -> None:
    """With the rate limit off, a client pipelining cheap requests (``who``) and never reading
    the replies must not get them all answered in one go: that buffers megabytes for it, far past
    ``max_output_buffer``, and stalls the event loop for everyone (over a second on uvloop, which
    hands a connection up to 32 reads per turn). So its buffer never passes the bound, and the
    others are served while it is, until it is cut. How prompt their round trips stay is a
    timing, so it is not asserted here: a busy machine would fail it."""
    async with running_server(msg_rate=0, write_timeout=0.5) as server:
        observer = Listener(await NativeClient.connect(server, "observer"))
        prober = await NativeClient.connect(server, "prober")
        spammer = await NonReader.connect(server, "spammer")
        await prober.sync()
        (connection,) = [c for c in server.connections if c.name == "spammer"]
        assert connection.transport is not None
        loop = asyncio.get_running_loop()
        requests = b'{"type":"who"}\n' * 4096

        async def spam() -> None:
            with contextlib.suppress(ConnectionError):
                while True:
                    await loop.sock_sendall(spammer.sock, requests)

        spamming = asyncio.create_task(spam())
        round_trips: list[float] = []
        peak = 0
        async with asyncio.timeout(WAIT):
            while not observer.left_event.is_set():
                started = time.monotonic()
                await prober.sync()
                round_trips.append(time.monotonic() - started)
                peak = max(peak, connection.transport.get_write_buffer_size())
            await spamming
        await observer.finish()
        assert [(left.name, left.reason) for left in observer.left] == [
            ("spammer", LeaveReason.TOO_SLOW)
        ]
        assert peak <= server.config.max_output_buffer
        answered = sum(data.count(b'"type":"users"') for data in server_writes["spammer"])
        assert answered > REQUESTS_PER_TURN  # it was served for a while before the cut
        assert round_trips, "the prober was never answered while the spammer was served"
        spammer.close()
        await prober.close()
        await observer.client.close()


async def test_reset_while_output_is_pending_is_one_drop() -> None:
    """C6 mid-write: a peer resets while the server still holds output for it."""
    async with running_server(msg_rate=0, max_output_buffer=64 * 1024 * KIB) as server:
        observer = Listener(await NativeClient.connect(server, "observer"))
        stuck = await NonReader.connect(server, "stuck")
        sender = await NativeClient.connect(server, "sender")
        await sender.sync()
        connection, sent = await fill_server_buffer(server, "stuck", sender)

        stuck.close()  # unread data in its receive queue: the kernel answers with RST
        async with asyncio.timeout(WAIT):
            await observer.left_event.wait()
        await observer.finish()
        assert [(left.name, left.reason) for left in observer.left] == [
            ("stuck", LeaveReason.DROPPED)
        ]
        assert len(observer.messages) == sent
        assert connection not in server.connections
        assert server.core.users() == ["observer", "sender"]
        await sender.close()
        await observer.client.close()


async def test_pipelined_requests_are_answered_a_bounded_batch_per_write(
    server_writes: dict[str, list[bytes]],
) -> None:
    """However long fan-out waits before writing (here 50 ms), a client's pipelined requests
    are handled at most REQUESTS_PER_TURN at a time: the next batch waits until the replies to
    the last were written and the output bounds could act."""
    writes = server_writes["piper"]
    async with running_server(msg_rate=0, coalesce_delay=0.05) as server:
        piper = await NativeClient.connect(server, "piper")
        writes.clear()
        await piper.send(*(Who() for _ in range(REQUESTS)))
        replies = await piper.collect(Users, REQUESTS)

        assert len(replies) == REQUESTS
        per_write = [data.count(b'"type":"users"') for data in writes]
        assert sum(per_write) == REQUESTS
        assert max(per_write) <= REQUESTS_PER_TURN, per_write
        await piper.close()
