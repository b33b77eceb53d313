"""A bounded soak of rooms, direct messages and history against a real ``chat-server``.

Many clients at once join and part rooms, send to rooms and to each other (often repeating
client ids), ask for history pages of every kind, set topics, send garbage, and leave by ``bye``
or by a reset, coming back with their session and a resume. Whatever the mix, the server must
log no error, end with the descriptors it started with, and still serve afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import time

import psutil

from tests.support.net import NativeClient
from tests.support.process import server_process
from wirechat_common import (
    AnyMessage,
    Bye,
    GetHistory,
    Hello,
    Join,
    ListRooms,
    Part,
    Pong,
    Say,
    SetTopic,
    Who,
    encode,
)

SOAK_SECONDS = 6.0
ACTORS = 24
ROOMS = [f"#r{n}" for n in range(6)]
SETTINGS = ("--msg-rate", "50", "--msg-burst", "50", "--flood-backlog", "5")
_SESSION = re.compile(rb'"session":"([^"]+)"')


def _request(rng: random.Random, actors: int) -> AnyMessage | bytes:
    """One random request, or a line of garbage."""
    room = rng.choice(ROOMS)
    pick = rng.random()
    if pick < 0.35:
        text = "x" * rng.randint(1, 300)
        return Say(text=text, room=rng.choice([*ROOMS, None]), client_id=f"c{rng.randint(0, 20)}")
    if pick < 0.45:
        return Say(text="psst", to=f"a{rng.randrange(actors)}", client_id=f"d{rng.randint(0, 20)}")
    if pick < 0.55:
        return Join(room=room)
    if pick < 0.62:
        return Part(room=room)
    if pick < 0.75:
        return GetHistory(
            room=rng.choice([*ROOMS, "@", "@a1"]),
            before=rng.choice([None, 5, 10**6]),
            limit=rng.choice([None, 0, 200, 201]),
        )
    if pick < 0.8:
        return ListRooms()
    if pick < 0.85:
        return SetTopic(room=room, topic="t" * rng.randint(0, 100))
    if pick < 0.9:
        return Who(room=rng.choice([*ROOMS, None]))
    return b'{"type":"say","text":' + rng.randbytes(rng.randint(1, 40)) + b"\n"


async def _read(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, seen: dict[str, str]
) -> None:
    """Read everything, noting the session and answering pings."""
    while data := await reader.read(1 << 20):
        if match := _SESSION.search(data):
            seen["session"] = match.group(1).decode()
        if b'"type":"ping"' in data:
            writer.write(encode(Pong()))


async def _actor(address: tuple[str, int], index: int, until: float) -> int:
    """Connect, act, leave, come back (usually with the session); return the rounds done."""
    rng = random.Random(index)
    name, session, rounds = f"a{index}", None, 0
    while time.monotonic() < until:
        reader, writer = await asyncio.open_connection(*address)
        rooms = {room: rng.randint(0, 40) for room in rng.sample(ROOMS, rng.randint(0, 3))}
        hello = Hello(
            name=name,
            session=session,
            rooms=rooms if rng.random() < 0.5 else None,
            dm_after=rng.choice([None, 0, 5]),
        )
        writer.write(encode(hello))
        seen: dict[str, str] = {}
        reading = asyncio.create_task(_read(reader, writer, seen))
        for _ in range(rng.randint(5, 30)):
            request = _request(rng, ACTORS)
            writer.write(request if isinstance(request, bytes) else encode(request))
            await asyncio.sleep(rng.uniform(0, 0.03))  # a human-ish pace, not a wait
        session = seen.get("session") if rng.random() < 0.8 else None
        if rng.random() < 0.5:
            writer.transport.abort()
        else:
            writer.write(encode(Bye()))
            writer.close()
        reading.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionError):
            await reading
        rounds += 1
    return rounds


async def test_rooms_dms_and_history_under_churn_leave_the_server_clean() -> None:
    async with server_process(*SETTINGS) as server:
        process = psutil.Process(server.process.pid)
        probe = await NativeClient.connect(server.address, "probe")
        await probe.sync()
        fds_before = process.num_fds()
        until = time.monotonic() + SOAK_SECONDS
        rounds = await asyncio.gather(*(_actor(server.address, n, until) for n in range(ACTORS)))
        assert sum(rounds) >= ACTORS * 3
        # Everyone is gone once a fresh client sees only itself and the probe.
        async with asyncio.timeout(10):
            while True:
                late = await NativeClient.connect(server.address, "late")
                await late.sync()
                assert late.welcome is not None
                if late.welcome.users == ["late", "probe"]:
                    break
                await late.close()
                await asyncio.sleep(0.05)  # polling the server's own view: no event to await
        assert process.num_fds() <= fds_before + 1  # the late client's connection
        log = server.text()
        assert "ERROR" not in log
        assert "Traceback" not in log
        await late.close()
        await probe.close()
