"""A bounded soak (catalogue F2-F4 in small): well-behaved users chat while others churn, reset
mid-frame, send garbage, flood and stop reading, all at once, against a real ``chat-server``.

The well-behaved users must lose nothing; the server must log no error, end with the memory and
descriptors it started with (within a small margin), and still serve afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import socket
import struct
import time

import psutil

from tests.support.net import NativeClient, PlainClient, eventually
from tests.support.process import server_process
from wirechat_common import Ack, Message, Ping, Pong, Say

SOAK_SECONDS = 6.0
CHATTERS = 20
CHURNERS = 6
SETTINGS = ("--msg-rate", "20", "--msg-burst", "20", "--flood-backlog", "2")


async def _chatter(address: tuple[str, int], index: int, until: float) -> int:
    """Say a line every 0.2 s; return how many were acknowledged."""
    client = await NativeClient.connect(address, f"chat{index}")
    client.auto_pong = True
    sent = 0
    while time.monotonic() < until:
        await client.send(Say(text=f"line {sent} from {index}"))
        sent += 1
        await asyncio.sleep(0.2)
    acks = await client.collect(Ack, sent, timeout=10)
    await client.close()
    return len(acks)


async def _observe(client: NativeClient, counts: dict[str, int]) -> None:
    """Count the chatters' messages until our own ping marked "end" comes back."""
    while True:
        message = await client.recv(timeout=30)
        if isinstance(message, Ping):
            await client.send(Pong(token=message.token))
        elif isinstance(message, Pong) and message.token == "end":
            return
        elif isinstance(message, Message) and message.sender.startswith("chat"):
            counts[message.sender] = counts.get(message.sender, 0) + 1


async def _churn(address: tuple[str, int], index: int, until: float) -> None:
    """Connect, register (either protocol), then reset the connection, sometimes mid-frame."""
    rounds = 0
    while time.monotonic() < until:
        reader, writer = await asyncio.open_connection(*address)
        if rounds % 2:
            writer.write(f"plain{index}x{rounds}\n".encode())
        else:
            writer.write(f'{{"type":"hello","name":"native{index}x{rounds}"}}\n'.encode())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(reader.read(100), 2)
        if rounds % 3 == 0:
            writer.write(b'{"type":"say","te')  # cut in the middle of a frame
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()
        rounds += 1
        await asyncio.sleep(0.02)


async def _garbage(address: tuple[str, int], seed: int, until: float) -> None:
    rng = random.Random(seed)
    while time.monotonic() < until:
        reader, writer = await asyncio.open_connection(*address)
        writer.write(rng.choice([b"{", b"x"]) + os.urandom(rng.randint(1, 20_000)))
        with contextlib.suppress(ConnectionError, TimeoutError):
            await asyncio.wait_for(reader.read(), 5)
        writer.close()


async def _flood(address: tuple[str, int], index: int, until: float) -> None:
    while time.monotonic() < until:
        client = await NativeClient.connect(address, f"flood{index}")
        await client.send(*(Say(text="x") for _ in range(500)))
        await client.expect_closed(timeout=10)
        await asyncio.sleep(0.3)


async def test_the_server_survives_a_mixed_soak_and_well_behaved_users_lose_nothing() -> None:
    async with server_process(*SETTINGS) as server:
        process = psutil.Process(server.process.pid)
        # Warm up the allocator and the code paths before taking the baseline.
        warm = await PlainClient.connect(server.address, "warmup")
        await warm.close()
        base_rss, base_fds = process.memory_info().rss, process.num_fds()

        observer = await NativeClient.connect(server.address, "observer")
        counts: dict[str, int] = {}
        watching = asyncio.create_task(_observe(observer, counts))
        silent = [socket.create_connection(server.address) for _ in range(3)]
        for index, sock in enumerate(silent):  # registered, then never read from again
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.sendall(f'{{"type":"hello","name":"silent{index}"}}\n'.encode())

        until = time.monotonic() + SOAK_SECONDS
        chatters = asyncio.gather(*(_chatter(server.address, i, until) for i in range(CHATTERS)))
        await asyncio.gather(
            *(_churn(server.address, i, until) for i in range(CHURNERS)),
            *(_garbage(server.address, seed, until) for seed in range(3)),
            *(_flood(server.address, i, until) for i in range(2)),
        )
        acked = await chatters
        # Everything relayed before the answer to this ping has reached the observer.
        await observer.send(Ping(token="end"))
        try:
            await watching
        except (ConnectionError, EOFError):
            raise AssertionError("the observer was cut off:\n" + server.text()[-3000:]) from None

        assert sum(acked) > CHATTERS * 10
        assert [counts.get(f"chat{i}", 0) for i in range(CHATTERS)] == acked
        for sock in silent:
            sock.close()
        await observer.close()

        # Back to idle: the same descriptors, and memory within a small margin of the start.
        await eventually(lambda: process.num_fds() <= base_fds, timeout=10, poll=0.05)
        assert process.memory_info().rss - base_rss < 16 * 1024 * 1024
        survivor = await PlainClient.connect(server.address, "survivor")
        await survivor.close()
        bad = [line for line in server.log if " ERROR " in line or "Traceback" in line]
        assert not bad, "\n".join(bad)
