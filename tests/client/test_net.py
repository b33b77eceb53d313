"""The connection on its own (no UI): registration, traffic, liveness, loss and reconnection."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

import pytest

from tests.support.app import FAST
from tests.support.net import WAIT, NativeClient, eventually, running_server
from wirechat_client.address import Address
from wirechat_client.events import (
    Connecting,
    Disconnected,
    HistoryPage,
    LinkState,
    NetEvent,
    Registered,
)
from wirechat_client.net import Backoff, ChatConnection
from wirechat_client.resume import PageKind
from wirechat_common import (
    PROTOCOL_VERSION,
    Ack,
    Decoder,
    Error,
    ErrorCode,
    GetHistory,
    Hello,
    History,
    Join,
    Left,
    Message,
    RoomInfo,
    Say,
    Welcome,
    encode,
)
from wirechat_server.server import ChatServer

T = TypeVar("T")
Handler = Callable[[int, asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class Events:
    """Runs ``connection.updates()`` in a task and lets the test wait for what it yields."""

    def __init__(self, connection: ChatConnection) -> None:
        self.connection = connection
        self.seen: list[NetEvent] = []
        self._changed = asyncio.Event()
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        async for batch in self.connection.updates():
            self.seen.extend(batch)
            self._changed.set()

    async def wait_for(self, kind: type, count: int = 1, timeout: float = WAIT) -> list[NetEvent]:
        """Wait until ``count`` events of ``kind`` have been seen; return them all."""
        async with asyncio.timeout(timeout):
            while len(found := [e for e in self.seen if isinstance(e, kind)]) < count:
                self._changed.clear()
                await self._changed.wait()
        return found

    async def finish(self) -> None:
        await self.connection.close()
        async with asyncio.timeout(WAIT):
            await self.task


@contextlib.asynccontextmanager
async def tcp_server(handler: Handler) -> AsyncIterator[Address]:
    """A fake server: ``handler(n, reader, writer)`` plays the n-th connection (from 0)."""
    count = 0
    tasks: set[asyncio.Task[None]] = set()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal count
        count += 1
        task = asyncio.current_task()
        assert task is not None
        tasks.add(task)
        with contextlib.suppress(ConnectionError, asyncio.CancelledError):
            await handler(count - 1, reader, writer)
        writer.close()

    listener = await asyncio.start_server(serve, "127.0.0.1", 0)
    try:
        yield Address(*listener.sockets[0].getsockname()[:2])
    finally:
        listener.close()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def read_hello(reader: asyncio.StreamReader) -> Hello:
    decoder = Decoder()
    while True:
        for message in decoder.feed(await reader.readline()):
            if isinstance(message, Hello):
                return message


def welcome(name: str) -> bytes:
    return encode(Welcome(name=name, users=[name], version=PROTOCOL_VERSION))


def address_of(server: ChatServer) -> Address:
    return Address(*server.address)


async def test_registers_says_and_hears(server: ChatServer) -> None:
    bob = await NativeClient.connect(server, "bob")
    events = Events(ChatConnection(address_of(server), "alice", backoff=FAST))
    (registered,) = await events.wait_for(Registered)
    assert isinstance(registered, Registered)
    assert not registered.reconnected
    assert registered.welcome.users == ["alice", "bob"]
    assert events.connection.state is LinkState.ONLINE
    client_id = events.connection.say("hello bob")
    heard = await bob.expect(Message)
    assert (heard.sender, heard.text) == ("alice", "hello bob")
    (ack,) = await events.wait_for(Ack)
    assert isinstance(ack, Ack)
    assert ack.client_id == client_id
    assert ack.id == heard.id
    await bob.send(Say(text="hi alice"))
    (message,) = await events.wait_for(Message)
    assert isinstance(message, Message)
    assert message.text == "hi alice"
    await events.finish()
    assert isinstance(events.seen[-1], Disconnected)
    assert events.seen[-1].retry_in is None
    left = await bob.expect(Left)  # close() said bye: a clean quit, not a dropped connection
    assert (left.name, left.reason) == ("alice", "quit")
    await bob.close()


async def test_answers_the_servers_pings(server_writes: dict[str, list[bytes]]) -> None:
    def pings() -> int:
        return sum(data.count(b'"type":"ping"') for data in server_writes["alice"])

    async with running_server(idle_ping_interval=0.05, idle_timeout=0.1) as server:
        events = Events(ChatConnection(address_of(server), "alice", keepalive=60))
        await events.wait_for(Registered)
        # The server pings again only once its last ping was answered: four pings are three
        # answers, any one of which, missing, would have dropped the client.
        await eventually(lambda: pings() >= 4)
        assert server.core.users() == ["alice"]
        assert not [e for e in events.seen if isinstance(e, Disconnected)]
        await events.finish()


async def test_a_silent_server_is_detected_by_keepalive() -> None:
    async def mute(n: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(welcome((await read_hello(reader)).name))
        while await reader.read(65536):  # swallows our pings, answers nothing
            pass

    async with tcp_server(mute) as address:
        connection = ChatConnection(address, "alice", backoff=FAST, keepalive=0.1)
        events = Events(connection)
        (lost, *_) = await events.wait_for(Disconnected)
        assert isinstance(lost, Disconnected)
        assert lost.reason == "no answer from the server for 0.2 s"
        assert lost.retry_in is not None
        await events.finish()


async def test_a_first_failure_is_final(server: ChatServer) -> None:
    async with running_server() as gone:
        closed = address_of(gone)
    events = Events(ChatConnection(closed, "alice", backoff=FAST))
    await events.task  # ends by itself: no retry on a first attempt
    assert isinstance(events.seen[0], Connecting)
    last = events.seen[-1]
    assert isinstance(last, Disconnected)
    assert last.retry_in is None
    assert last.reason == f"nothing is listening on {closed} (is the server running?)"

    taken = await NativeClient.connect(server, "alice")
    events = Events(ChatConnection(address_of(server), "ALICE", backoff=FAST))
    await events.task
    last = events.seen[-1]
    assert isinstance(last, Disconnected)
    assert last.retry_in is None
    assert last.code == "name_taken"
    await taken.close()


async def test_reconnects_and_retries_a_name_still_held_by_our_ghost() -> None:
    async def flaky(n: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        hello = await read_hello(reader)
        if n == 1:  # the server still holds our previous connection
            writer.write(encode(Error(code="name_taken", detail="the name 'alice' is taken")))
            await reader.read(65536)
            return
        writer.write(welcome(hello.name))
        if n == 0:
            return  # and drop the connection at once
        writer.write(encode(Message(id=1, ts=0, sender="bob", text="welcome back")))
        await reader.read(65536)

    async with tcp_server(flaky) as address:
        events = Events(ChatConnection(address, "alice", backoff=FAST))
        await events.wait_for(Registered, count=2)
        await events.wait_for(Message)
        kinds = [type(e).__name__ for e in events.seen]
        assert kinds == [
            "Connecting", "Registered", "Disconnected",
            "Connecting", "Disconnected",
            "Connecting", "Registered", "Message",
        ]  # fmt: skip
        drops = [e for e in events.seen if isinstance(e, Disconnected)]
        assert drops[1].code == "name_taken"
        assert drops[1].retry_in is not None
        assert all(e.retry_in is not None and e.retry_in <= FAST.maximum for e in drops)
        registered = [e for e in events.seen if isinstance(e, Registered)]
        assert registered[1].reconnected
        await events.finish()


async def test_a_line_in_flight_at_a_drop_is_sent_again_under_its_client_id() -> None:
    said: list[list[Say]] = [[], []]

    async def no_acks(n: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(welcome((await read_hello(reader)).name))
        decoder = Decoder()
        while n < 2 and (data := await reader.read(65536)):
            said[n] += [m for m in decoder.feed(data) if isinstance(m, Say)]
            if n == 0 and said[0]:
                return  # drop the connection before any ack
            if n == 1 and said[1]:
                say = said[1][0]
                writer.write(encode(Ack(id=5, ts=0, client_id=say.client_id, duplicate=True)))

    async with tcp_server(no_acks) as address:
        events = Events(ChatConnection(address, "alice", backoff=FAST))
        await events.wait_for(Registered)
        client_id = events.connection.say("did this arrive?", room="#dev")
        (ack,) = await events.wait_for(Ack)
        assert isinstance(ack, Ack)
        assert (ack.client_id, ack.duplicate) == (client_id, True)
        assert [(s.text, s.client_id, s.room) for s in said[1]] == [
            ("did this arrive?", client_id, "#dev")
        ]
        assert said[0] == said[1]
        assert not len(events.connection.outbox)
        await events.finish()


async def test_client_ids_differ_between_runs() -> None:
    first = ChatConnection(Address("h", 1), "alice").outbox.new("x")
    second = ChatConnection(Address("h", 1), "alice").outbox.new("x")
    assert first.client_id != second.client_id


def room_frames(room: str, *ids: int, more: bool = False) -> bytes:
    messages = [Message(id=n, ts=0, sender="bob", text=f"m{n}", room=room) for n in ids]
    return encode(RoomInfo(room=room, users=["alice", "bob"])) + encode(
        History(room=room, messages=messages, more=more)
    )


def live(room: str | None, n: int, to: str | None = None) -> bytes:
    return encode(Message(id=n, ts=0, sender="bob", text=f"m{n}", room=room, to=to))


async def read_until(reader: asyncio.StreamReader, kind: type[T]) -> T:
    decoder = Decoder()
    while True:
        line = await reader.readline()
        if not line:
            raise EOFError
        for message in decoder.feed(line):
            if isinstance(message, kind):
                return message


async def test_resumes_with_session_and_cursors_and_pages_forward_until_caught_up() -> None:
    hellos: list[Hello] = []
    asked: list[GetHistory] = []
    done = asyncio.Event()

    async def resuming(n: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        hello = await read_hello(reader)
        hellos.append(hello)
        writer.write(
            encode(Welcome(name="alice", users=["alice"], version=1, session="tok", max_history=2))
        )
        if n == 0:
            writer.write(room_frames("#lobby", 3))
            await read_until(reader, Join)
            writer.write(room_frames("#Dev"))
            writer.write(live("#Dev", 7) + live(None, 8, to="alice"))
            return  # dropped
        if n == 1:
            writer.write(room_frames("#lobby", 9, 10, more=True) + room_frames("#Dev"))
            writer.write(encode(History(room="@", messages=[], more=False)))
            asked.append(await read_until(reader, GetHistory))
            writer.write(live("#lobby", 12))  # arrives live while catching up
            writer.write(encode(History(room="#lobby", messages=[], more=False)))
            return
        done.set()
        await reader.read(65536)

    async with tcp_server(resuming) as address:
        events = Events(ChatConnection(address, "alice", backoff=FAST))
        await events.wait_for(HistoryPage)
        assert events.connection.request(Join(room="#dev"))
        await events.wait_for(Registered, 2)
        await events.wait_for(HistoryPage, 4)
        async with asyncio.timeout(WAIT):
            await done.wait()
        first, second, third = hellos
        assert (first.session, first.rooms, first.dm_after) == (None, None, None)
        assert second.session == "tok"
        assert (second.rooms, second.dm_after) == ({"#lobby": 3, "#Dev": 7}, 8)
        assert asked == [GetHistory(room="#lobby", after=10, limit=2)]
        # Caught up: the live message counts now.
        assert (third.rooms, third.dm_after) == ({"#lobby": 12, "#Dev": 7}, 8)
        kinds = [(e.room, e.kind) for e in events.seen if isinstance(e, HistoryPage)]
        assert kinds == [
            ("#lobby", PageKind.JOIN),
            ("#Dev", PageKind.JOIN),
            ("#lobby", PageKind.MISSED),
            ("#Dev", PageKind.MISSED),
            ("@", PageKind.MISSED),
            ("#lobby", PageKind.MISSED),
        ]
        await events.finish()


async def test_a_drop_while_catching_up_resumes_from_the_last_page() -> None:
    hellos: list[Hello] = []

    async def flaky(n: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        hellos.append(await read_hello(reader))
        writer.write(
            encode(Welcome(name="alice", users=["alice"], version=1, session="t", max_history=2))
        )
        if n == 0:
            writer.write(room_frames("#lobby", 3))
        elif n == 1:
            writer.write(room_frames("#lobby", 4, 5, more=True) + live("#lobby", 9))
            await read_until(reader, GetHistory)
        else:
            await reader.read(65536)

    async with tcp_server(flaky) as address:
        events = Events(ChatConnection(address, "alice", backoff=FAST))
        await events.wait_for(Registered, 3)
        assert [h.rooms for h in hellos] == [None, {"#lobby": 3}, {"#lobby": 5}]
        await events.finish()


async def test_lines_said_offline_wait_in_a_bounded_outbox() -> None:
    async with running_server() as first:
        address = address_of(first)
        events = Events(ChatConnection(address, "alice", backoff=FAST))
        await events.wait_for(Registered)
    await events.wait_for(Disconnected)
    ids = [events.connection.say(f"queued {n}") for n in range(12)]
    assert all(ids[:10])
    assert ids[10:] == [None, None]
    async with running_server(port=address.port) as second:
        bob = await NativeClient.connect(second, "bob")
        await events.wait_for(Registered, count=2)
        texts = [(await bob.expect(Message)).text for _ in range(10)]
        assert texts == [f"queued {n}" for n in range(10)]
        await events.finish()
        await bob.close()


async def test_close_while_waiting_to_retry_ends_at_once() -> None:
    async with running_server() as server:
        events = Events(ChatConnection(address_of(server), "alice", backoff=Backoff(30, 30)))
        await events.wait_for(Registered)
    await events.wait_for(Disconnected)
    async with asyncio.timeout(1):
        await events.finish()
    assert events.connection.state is LinkState.CLOSED


@pytest.mark.parametrize("attempt", range(12))
def test_backoff_doubles_up_to_the_cap_with_jitter(attempt: int) -> None:
    backoff = Backoff(initial=0.5, maximum=30.0, jitter=0.5)
    base = min(30.0, 0.5 * 2**attempt)
    assert backoff.delay(attempt, lambda: 0.0) == base
    assert backoff.delay(attempt, lambda: 1.0) == base / 2
    assert base / 2 <= backoff.delay(attempt) <= base


def test_the_network_layer_does_not_load_textual() -> None:
    code = (
        "import sys, wirechat_client.net, wirechat_client.events; "
        "print(sorted(m for m in ('textual', 'rich') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


async def test_ids_that_start_again_move_the_cursor_back() -> None:
    hellos: list[Hello] = []

    async def forgetful(n: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        hellos.append(await read_hello(reader))
        writer.write(encode(Welcome(name="alice", users=["alice"], version=1, session=f"s{n}")))
        if n == 0:
            writer.write(room_frames("#lobby", 7) + live(None, 9, to="alice"))
        elif n == 1:  # restarted without storage: ids from 1 again
            writer.write(room_frames("#lobby") + live("#lobby", 1) + live(None, 2, to="alice"))
        else:
            await reader.read(65536)

    async with tcp_server(forgetful) as address:
        events = Events(ChatConnection(address, "alice", backoff=FAST))
        await events.wait_for(Registered, 3)
        assert [(h.rooms, h.dm_after) for h in hellos[1:]] == [
            ({"#lobby": 7}, 9),
            ({"#lobby": 1}, 2),
        ]
        await events.finish()


async def test_a_catch_up_page_the_server_could_not_read_is_asked_for_again() -> None:
    hellos: list[Hello] = []
    asked: list[GetHistory] = []
    cursors: list[int] = []
    holder: list[ChatConnection] = []

    async def failing(n: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        hellos.append(await read_hello(reader))
        writer.write(
            encode(Welcome(name="alice", users=["alice"], version=1, session="t", max_history=2))
        )
        if n == 0:
            writer.write(room_frames("#lobby", 3))
            return  # dropped
        if n == 1:
            failed = Error(code=ErrorCode.STORAGE_UNAVAILABLE, detail="disk", room="#lobby")
            writer.write(encode(RoomInfo(room="#lobby", users=["alice"])) + encode(failed))
            writer.write(encode(History(room="@", messages=[])) + live("#lobby", 9))
            asked.append(await read_until(reader, GetHistory))  # after the backoff
            cursor = holder[0].resume.cursor("#lobby")
            assert cursor is not None
            cursors.append(cursor.last)  # still before the hole, despite message 9
            writer.write(encode(History(room="#lobby", messages=[], more=False)))
            return
        await reader.read(65536)

    async with tcp_server(failing) as address:
        events = Events(ChatConnection(address, "alice", backoff=FAST))
        holder.append(events.connection)
        await events.wait_for(Registered, 3)
        assert asked == [GetHistory(room="#lobby", after=3, limit=2)]
        assert cursors == [3]
        # The page came: what arrived live meanwhile counts now.
        assert [h.rooms for h in hellos] == [None, {"#lobby": 3}, {"#lobby": 9}]
        errors = [e for e in events.seen if isinstance(e, Error)]
        assert [e.room for e in errors] == ["#lobby"]  # shown, and then repaired
        await events.finish()


async def test_resends_are_paced_by_the_servers_burst_and_rate() -> None:
    arrived: list[str] = []
    waiting_after_burst: list[int] = []
    holder: list[ChatConnection] = []

    async def limited(n: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_hello(reader)
        writer.write(
            encode(Welcome(name="alice", users=["alice"], version=1, msg_burst=2, msg_rate=4.0))
        )
        for index in range(3):
            say = await read_until(reader, Say)
            arrived.append(say.text)
            if index == 1:  # the burst is out: the third line waits its turn
                waiting_after_burst.append(holder[0].outbox.waiting())
            writer.write(encode(Ack(id=10 + index, ts=0, client_id=say.client_id)))
        await reader.read(65536)

    async with tcp_server(limited) as address:
        connection = ChatConnection(address, "alice", backoff=FAST)
        holder.append(connection)
        for n in range(3):  # typed before the connection is up: queued
            assert connection.say(f"line {n}")
        events = Events(connection)
        await events.wait_for(Ack, 3)
        assert arrived == ["line 0", "line 1", "line 2"]
        assert waiting_after_burst == [1]
        await events.finish()
