"""Races around names, rooms and sessions changing while a message waits for the disk, and the
bounds on what one hello can ask for (found by review; each test failed before its fix)."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.net import WAIT, eventually
from tests.support.rooms import Chat, ids, of_type, of_types, serving, texts_of
from wirechat_common import Ack, History, Joined, LeaveReason, Left, Message, Part, RoomInfo, Say
from wirechat_server.config import DATABASE_NAME


class Gate:
    """A store hook that holds every commit until :meth:`open`: messages wait for the disk."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self._open = threading.Event()

    def hook(self, batch: int) -> None:
        self.entered.set()
        self._open.wait(WAIT)

    async def committing(self) -> None:
        """Wait until a commit is held at the gate."""
        assert await asyncio.to_thread(self.entered.wait, WAIT)

    def open(self) -> None:
        self._open.set()


@contextmanager
def opened_on_exit(gate: Gate) -> Iterator[Gate]:
    try:
        yield gate
    finally:
        gate.open()  # never leave the writer blocked, or the server cannot stop


async def test_a_name_taken_over_while_a_dm_is_stored_gets_nothing_of_it() -> None:
    with opened_on_exit(Gate()) as gate:
        async with serving(store_hook=gate.hook) as server:
            bob = await Chat.hello(server, "bob")
            alice = await Chat.hello(server, "alice")
            await alice.send(Say(text="secret", to="bob", client_id="s1"))
            await gate.committing()
            alice.abort()
            # The name is free at once; alice's rooms hear her leave only once her message is
            # stored, or as soon as someone else takes her name, as mallory does here.
            await eventually(lambda: not server.core.is_taken("alice"))
            mallory = await Chat.hello(server, "alice")  # a new session
            left = await bob.answer(Left)
            assert isinstance(left, Left)
            assert (left.name, left.reason) == ("alice", LeaveReason.DROPPED)
            joined = await bob.answer(Joined)
            assert isinstance(joined, Joined)
            assert joined.name == "alice"
            gate.open()
            message = await bob.answer(Message)
            assert isinstance(message, Message)
            assert message.text == "secret"
            assert texts_of(await mallory.drain()) == []
            assert (await mallory.page("@bob")).messages == []
            assert (await mallory.page("@")).messages == []
            await mallory.close()
            await bob.close()


async def test_last_words_come_before_the_leave_and_a_quick_return_is_no_leave_at_all() -> None:
    """A user who drops while its line is being stored is heard leaving after that line; one
    who comes back with its session before then never seemed to leave."""
    with opened_on_exit(Gate()) as gate:
        async with serving(store_hook=gate.hook) as server:
            bob = await Chat.hello(server, "bob")
            alice = await Chat.hello(server, "alice")
            carol = await Chat.hello(server, "carol")
            await bob.drain()
            await alice.send(Say(text="last words", client_id="w1"))
            await carol.send(Say(text="carol's words", client_id="c1"))
            await gate.committing()
            session = alice.session
            alice.abort()
            carol.abort()
            await eventually(lambda: server.core.users() == ["bob"])
            back = await Chat.hello(server, "alice", session=session)
            gate.open()
            # carol's line, then carol's leave; alice's line, and nothing of her going.
            await bob.say("end")  # stored after theirs: once it is acked, theirs were relayed
            seen = of_types(await bob.drain(), Message, Left, Joined)
            assert [
                (type(event).__name__, getattr(event, "name", getattr(event, "sender", "")))
                for event in seen
            ] == [("Message", "alice"), ("Message", "carol"), ("Left", "carol")]
            assert server.core.users() == ["alice", "bob"]
            await back.close()
            await bob.close()


async def test_a_recipient_name_taken_over_while_a_dm_is_stored_cannot_read_it() -> None:
    with opened_on_exit(Gate()) as gate:
        async with serving(store_hook=gate.hook) as server:
            carol = await Chat.hello(server, "carol")
            dave = await Chat.hello(server, "dave")
            await dave.send(Say(text="for carol only", to="carol", client_id="d1"))
            await gate.committing()
            carol.abort()
            await dave.answer(Left)
            eve = await Chat.hello(server, "carol")
            gate.open()
            await dave.answer(Ack)  # stored now
            assert texts_of(await eve.drain()) == []
            assert (await eve.page("@dave")).messages == []
            assert (await eve.page("@")).messages == []
            await eve.close()
            await dave.close()


async def test_an_earlier_holder_of_a_name_cannot_pre_empt_its_client_ids() -> None:
    async with serving() as server:
        bob = await Chat.hello(server, "bob")
        squatter = await Chat.hello(server, "alice")
        squatted = await squatter.say("squatting", client_id="1")
        await squatter.close()
        await bob.answer(Left)
        alice = await Chat.hello(server, "alice")  # a new session for the name
        ack = await alice.say("the real alice", client_id="1")
        assert not ack.duplicate
        assert ack.id > squatted.id
        seen = [m for m in await bob.drain() if isinstance(m, Message)]
        assert [m.text for m in seen] == ["squatting", "the real alice"]
        await alice.close()
        await bob.close()


async def test_a_room_made_again_while_a_message_is_stored_gets_the_message() -> None:
    with opened_on_exit(Gate()) as gate:
        async with serving(store_hook=gate.hook) as server:
            alice = await Chat.hello(server, "alice")
            await alice.join("#x")
            await alice.send(Say(text="in flight", room="#x", client_id="f1"))
            await gate.committing()
            await alice.send(Part(room="#x"))
            await alice.answer(Left)  # #x is empty now: forgotten
            bob = await Chat.hello(server, "bob")
            info, page = await bob.join("#x")  # made again, before the message is stored
            assert info.users == ["bob"]
            gate.open()
            message = await bob.answer(Message)
            assert isinstance(message, Message)
            assert (message.text, message.room) == ("in flight", "#x")
            assert message.id not in ids(page.messages)
            await alice.close()
            await bob.close()


async def test_a_hello_answer_is_bounded_however_many_rooms_it_names() -> None:
    async with serving(max_history=20, history_on_join=10) as server:
        alice = await Chat.hello(server, "alice")
        for room in ("#a", "#b"):
            await alice.join(room)
            await alice.seed(30, room=room)
        session = alice.session
        alice.abort()
        # Case variants of one room are one room; every page shares one budget of max_history.
        rooms = {"#a": 1, "#A": 1, "#b": 1, "#B": 0, "#lobby": 0}
        again = await Chat.hello(server, "alice", session=session, rooms=rooms)
        frames = await again.drain()
        infos = of_type(frames, RoomInfo)
        pages = of_type(frames, History)
        assert [info.room for info in infos] == ["#a", "#b", "#lobby"]
        assert [page.room for page in pages] == ["#a", "#b", "#lobby"]
        assert sum(len(page.messages) for page in pages) <= 20
        assert all(page.more for page in pages[:2])
        await again.close()


async def test_sessions_in_use_are_saved_as_seen_at_shutdown(tmp_path: Path) -> None:
    async with serving(tmp_path) as server:
        alice = await Chat.hello(server, "alice")
        await alice.drain()
        # A millisecond later than the session was first saved (at registration), by the clock.
        before_ms = int(time.time() * 1000) + 1
        while time.time() * 1000 < before_ms:  # noqa: ASYNC110 - waiting on the clock itself
            await asyncio.sleep(0)
    conn = sqlite3.connect(tmp_path / DATABASE_NAME)
    try:
        (seen,) = conn.execute("SELECT seen FROM sessions WHERE key = 'alice'").fetchone()
    finally:
        conn.close()
    assert seen >= before_ms
