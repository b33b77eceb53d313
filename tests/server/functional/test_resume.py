"""Lossless reconnect over real sockets: a client that drops and comes back with its session,
``rooms`` {room: last id} and ``dm_after`` gets exactly what it missed, once, in order, then the
live messages; and the join/replay race, with others sending all the while (spec 2-4, 13).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

import pytest

from tests.support.net import WAIT
from tests.support.rooms import Chat, ids, of_type, serving, strictly_increasing
from wirechat_common import (
    Ack,
    Error,
    GetHistory,
    History,
    Join,
    Left,
    Message,
    Part,
    RoomInfo,
    Say,
)
from wirechat_server.server import ChatServer

pytestmark = pytest.mark.timeout(30)


def kinds(frames: Sequence[object]) -> list[tuple[str, str | None]]:
    return [(type(f).__name__, getattr(f, "room", None)) for f in frames]


async def test_a_resume_replays_exactly_the_missed_room_and_direct_messages_then_live() -> None:
    async with serving() as server:
        alice = await Chat.hello(server, "alice")
        await alice.join("#r")
        await alice.join("#z")
        # A second connection of alice's in no room keeps her reachable for DMs meanwhile.
        keeper = await Chat.hello(server, "alice", session=alice.session, rooms={})
        bob = await Chat.hello(server, "bob", rooms={"#lobby": 0, "#r": 0, "#z": 0})
        await alice.drain()

        # What she sees before the drop.
        seen_lobby = await bob.say("lobby 1")
        seen_r = await bob.say("r 1", room="#r")
        seen_dm = await bob.say("dm 1", to="alice")
        got = of_type(await alice.drain(), Message)
        assert ids(got) == [seen_lobby.id, seen_r.id, seen_dm.id]
        z_before = await bob.seed(3, room="#z", prefix="z")
        await alice.drain()

        session = alice.session
        alice.abort()
        missed_r, missed_lobby, missed_dm = [], [], []
        for n in range(3):
            missed_r.append(await bob.say(f"r missed {n}", room="#r"))
            missed_lobby.append(await bob.say(f"lobby missed {n}"))
            missed_dm.append(await bob.say(f"dm missed {n}", to="alice"))
        missed_dm.append(await keeper.say("alice's own, from elsewhere", to="bob"))
        await bob.drain()

        alice = await Chat.hello(
            server,
            "alice",
            session=session,
            rooms={"#r": seen_r.id, "#lobby": seen_lobby.id, "#z": 0},
            dm_after=seen_dm.id,
        )
        frames = [f for f in await alice.drain() if isinstance(f, RoomInfo | History | Message)]
        assert kinds(frames) == [
            ("RoomInfo", "#r"),
            ("History", "#r"),
            ("RoomInfo", "#lobby"),
            ("History", "#lobby"),
            ("RoomInfo", "#z"),
            ("History", "#z"),
            ("History", "@"),
        ]
        _, r, _, lobby, _, z, dm = frames
        assert isinstance(r, History)
        assert isinstance(lobby, History)
        assert isinstance(z, History)
        assert isinstance(dm, History)
        assert (ids(r.messages), r.more) == (ids(missed_r), False)
        assert (ids(lobby.messages), lobby.more) == (ids(missed_lobby), False)
        assert (ids(z.messages), z.more) == (ids(z_before), False)  # 0: the recent ones
        assert (ids(dm.messages), dm.more) == (ids(missed_dm), False)
        assert [(m.sender, m.to) for m in dm.messages][-1] == ("alice", "bob")

        # Then live, and nothing again.
        live = await bob.say("live", room="#r")
        message = await alice.answer(Message)
        assert isinstance(message, Message)
        assert (message.id, message.room) == (live.id, "#r")
        assert of_type(await alice.drain(), Message) == []
        for client in (alice, keeper, bob):
            await client.close()


async def test_a_resume_with_more_missed_than_max_history_pages_forward_to_the_end() -> None:
    async with serving(max_history=10, history_on_join=5) as server:
        alice = await Chat.hello(server, "alice")
        keeper = await Chat.hello(server, "alice", session=alice.session, rooms={})
        bob = await Chat.hello(server, "bob")
        last_room = (await bob.say("seen")).id
        last_dm = (await bob.say("seen dm", to="alice")).id
        await alice.drain()
        session = alice.session
        alice.abort()

        missed_room = ids(await bob.seed(35, prefix="room"))
        missed_dm = ids(await bob.seed(23, prefix="dm", to="alice"))
        await keeper.drain()
        alice = await Chat.hello(
            server, "alice", session=session, rooms={"#lobby": last_room}, dm_after=last_dm
        )
        frames = of_type(await alice.drain(), History)
        # The answer to one hello holds at most max_history messages, shared by its pages.
        assert [(h.room, len(h.messages), h.more) for h in frames] == [
            ("#lobby", 5, True),
            ("@", 5, True),
        ]
        for room, missed, first in (
            ("#lobby", missed_room, frames[0]),
            ("@", missed_dm, frames[1]),
        ):
            got = ids(first.messages)
            page = first
            while page.more:
                page = await alice.page(room, after=got[-1], limit=10)
                got += ids(page.messages)
            assert got == missed, room
        live = await bob.say("live")
        message = await alice.answer(Message)
        assert isinstance(message, Message)
        assert message.id == live.id
        for client in (alice, keeper, bob):
            await client.close()


async def test_dm_replay_comes_after_the_rooms() -> None:
    async with serving() as server:
        alice = await Chat.hello(server, "alice")
        bob = await Chat.hello(server, "bob")
        dm = await bob.say("hi", to="alice")
        session = alice.session
        await alice.close()
        alice = await Chat.hello(server, "alice", session=session, dm_after=0)
        frames = [f for f in await alice.drain() if isinstance(f, RoomInfo | History)]
        assert kinds(frames) == [("RoomInfo", "#lobby"), ("History", "#lobby"), ("History", "@")]
        assert isinstance(frames[2], History)
        assert ids(frames[2].messages) == [dm.id]
        only_dms = await Chat.hello(server, "alice", session=session, rooms={}, dm_after=0)
        (frame,) = [f for f in await only_dms.drain() if isinstance(f, RoomInfo | History)]
        assert isinstance(frame, History)
        assert (frame.room, ids(frame.messages)) == ("@", [dm.id])
        for client in (alice, bob, only_dms):
            await client.close()


# -- the join/replay race ------------------------------------------------------------------

ROOM = "#race"
BATCH = 5
MAX_PER_SENDER = 5000  # a bound, should a test hang; the cycles end long before
JOIN_CYCLES = 20


@dataclass
class Senders:
    """Three users saying lines in :data:`ROOM` as fast as their acks come back."""

    clients: list[Chat]
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    acked: list[int] = field(default_factory=list)
    progress: asyncio.Condition = field(default_factory=asyncio.Condition)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @classmethod
    @contextlib.asynccontextmanager
    async def running(cls, server: ChatServer) -> AsyncIterator[Senders]:
        """Start them; however the test ends, stop them and close their connections."""
        clients = [await Chat.hello(server, f"sender{i}", rooms={ROOM: 0}) for i in range(3)]
        senders = cls(clients)
        senders.tasks = [asyncio.create_task(senders._run(c, i)) for i, c in enumerate(clients)]
        try:
            yield senders
        finally:
            for task in senders.tasks:
                task.cancel()
            await asyncio.gather(*senders.tasks, return_exceptions=True)
            for client in clients:
                await client.close()

    async def _run(self, client: Chat, index: int) -> None:
        sent = 0
        while not self.stop.is_set() and sent < MAX_PER_SENDER:
            await client.send(
                *(
                    Say(text=f"{index}:{sent + k}", room=ROOM, client_id=f"s{index}-{sent + k}")
                    for k in range(BATCH)
                )
            )
            for _ in range(BATCH):
                reply = await client.answer(Ack, Error)
                assert isinstance(reply, Ack), reply
                self.acked.append(reply.id)
            client.inbox = [m for m in client.inbox if not isinstance(m, Message)]
            sent += BATCH
            async with self.progress:
                self.progress.notify_all()

    async def wait_for(self, count: int) -> None:
        """Until ``count`` messages have been acked in all."""
        async with asyncio.timeout(WAIT), self.progress:
            await self.progress.wait_for(lambda: len(self.acked) >= count)

    async def finish(self) -> None:
        """Stop sending; return once every line sent is acked."""
        self.stop.set()
        await asyncio.gather(*self.tasks)
        assert len(self.acked) < 3 * MAX_PER_SENDER, "the senders ran out before the test ended"
        for client in self.clients:
            await client.drain()


def assert_contiguous(
    got: list[int], full: list[int], what: str, *, repeats_ok: bool = False
) -> None:
    """``got`` holds every id of ``full`` from its first to its last, each once (or at least
    once, with ``repeats_ok``)."""
    if not repeats_ok:
        assert len(set(got)) == len(got), f"{what}: ids received twice"
    span = [i for i in full if min(got) <= i <= max(got)]
    missing = sorted(set(span) - set(got))
    assert not missing, f"{what}: {len(missing)} missed, first {missing[:5]}"
    assert sorted(set(got)) == span, f"{what}: ids not of the room"


async def test_joining_while_others_send_gets_history_then_live_without_gap_or_repeat() -> None:
    async with serving(history_on_join=20) as server, Senders.running(server) as senders:
        alice = await Chat.hello(server, "alice", rooms={})
        await senders.wait_for(60)
        rng = random.Random(7)
        cycles: list[list[int]] = []
        for _ in range(JOIN_CYCLES):
            await senders.wait_for(len(senders.acked) + rng.randint(0, 30))
            await alice.send(Join(room=ROOM))
            while not isinstance(frame := await alice.recv(), RoomInfo):
                assert not isinstance(frame, Message | History), f"before the room: {frame}"
            while not isinstance(frame := await alice.recv(), History):
                assert not isinstance(frame, Message), f"a message before the history: {frame}"
            assert (frame.room, len(frame.messages)) == (ROOM, 20)
            seq = ids(frame.messages)
            live = 0
            while live < 25:
                if isinstance(frame := await alice.recv(), Message):
                    seq.append(frame.id)
                    live += 1
            await alice.send(Part(room=ROOM))
            while not (isinstance(frame := await alice.recv(), Left) and frame.name == "alice"):
                if isinstance(frame, Message):
                    seq.append(frame.id)
            assert strictly_increasing(seq), seq
            cycles.append(seq)
        await senders.finish()
        full = ids(await senders.clients[0].everything(ROOM, 200))
        assert strictly_increasing(full)
        for n, seq in enumerate(cycles):
            assert_contiguous(seq, full, f"join {n}")
        await alice.close()


async def test_resuming_while_others_send_misses_nothing() -> None:
    """Drop and resume again and again while three others send: over all the connections,
    what the client read is every message of the room from its first to its last; a resume
    that needs no paging reads them once and in order. One of the resumes misses more than a
    page and pages forward while live messages arrive (that a forward page never repeats a
    live message is the next test's, deterministically)."""
    max_history = 20
    async with (
        serving(history_on_join=10, max_history=max_history) as server,
        Senders.running(server) as senders,
    ):
        alice = await Chat.hello(server, "alice", rooms={ROOM: 0})
        received: list[int] = []
        (replay,) = of_type(await alice.drain(), History)
        received += ids(replay.messages)
        rng = random.Random(11)
        for cycle in range(6):
            # Read some live messages, then drop without warning (unread data is lost).
            live, wanted = 0, rng.randint(5, 40)
            while live < wanted:
                if isinstance(frame := await alice.recv(), Message):
                    received.append(frame.id)
                    live += 1
            session = alice.session
            alice.abort()
            if cycle == 2:  # stay away long enough to miss more than a page
                await senders.wait_for(len(senders.acked) + 2 * max_history)
            start = len(received)
            alice = await Chat.hello(server, "alice", session=session, rooms={ROOM: max(received)})
            pages_pending = 0
            live = 0
            more_seen = False
            first_page = True
            while pages_pending or first_page or live < 10:
                frame = await alice.recv()
                if isinstance(frame, Message):
                    received.append(frame.id)
                    live += 1
                elif isinstance(frame, History):
                    assert frame.room == ROOM
                    received += ids(frame.messages)
                    if first_page:
                        first_page = False
                    else:
                        pages_pending -= 1
                    if frame.more:
                        more_seen = True
                        after = frame.messages[-1].id
                        await alice.send(GetHistory(room=ROOM, after=after, limit=max_history))
                        pages_pending += 1
            if cycle == 2:
                assert more_seen, "the long absence did not miss more than a page"
            if not more_seen:  # then the stream itself is in order, from where it left off
                assert strictly_increasing(received[start - 1 :]), f"resume {cycle} out of order"
        await senders.finish()
        full = ids(await senders.clients[0].everything(ROOM, max_history))
        assert_contiguous(received, full, "resumes", repeats_ok=True)
        await alice.close()


async def test_paging_forward_after_a_resume_reaches_the_live_messages_without_a_gap() -> None:
    """A resume that missed more than a page gets ``more``; live messages arrive before the
    client has paged to the end. The forward pages reach them with no gap; they may repeat
    what already came live (protocol.md: clients merge pages by id), never skip."""
    async with serving(max_history=10, history_on_join=5) as server:
        alice = await Chat.hello(server, "alice")
        bob = await Chat.hello(server, "bob")
        last = (await bob.say("seen")).id
        await alice.drain()
        session = alice.session
        alice.abort()
        missed = ids(await bob.seed(25, prefix="missed"))
        alice = await Chat.hello(server, "alice", session=session, rooms={"#lobby": last})
        (replay,) = of_type(await alice.drain(), History)
        assert (ids(replay.messages), replay.more) == (missed[:10], True)
        live = await bob.say("live while paging")
        message = await alice.answer(Message)
        assert isinstance(message, Message)
        assert message.id == live.id
        paged = ids(replay.messages)
        page = replay
        while page.more:
            page = await alice.page("#lobby", after=paged[-1], limit=10)
            paged += ids(page.messages)
        assert paged[: len(missed)] == missed
        assert set(paged[len(missed) :]) <= {live.id}  # at most what already came live
        await alice.close()
        await bob.close()
