"""Client test support: waiting on the app, building it, a scripted peer and a hostile server.

Waits poll the app's own state between short ``pilot.pause()`` calls, bounded by a timeout,
never a fixed sleep.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC
from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from tests.support.net import WAIT, abort_writer
from wirechat_client.address import Address
from wirechat_client.app import WirechatApp
from wirechat_client.config import ClientConfig
from wirechat_client.events import (
    Connecting,
    Connection,
    ConnectionFactory,
    Disconnected,
    LinkState,
    NetEvent,
    Registered,
    Request,
)
from wirechat_client.net import Backoff, ChatConnection
from wirechat_client.prefs import Prefs
from wirechat_client.screens.chat import ChatScreen
from wirechat_common import MAX_FRAME_BYTES, PROTOCOL_VERSION, Ack, Decoder, Hello, Welcome, encode
from wirechat_common.messages import AnyMessage
from wirechat_server.server import ChatServer

#: A fixed instant for deterministic screens: 2025-01-02 12:34:00 UTC, in ms.
FIXED_MS = 1_735_821_240_000

#: Settings that show every join and leave (the smart filter off): for tests about those lines.
EVERY_JOIN = ClientConfig(smart_filter_minutes=0)

#: Reconnection fast enough for tests, still exercising the doubling and the jitter.
FAST = Backoff(initial=0.05, maximum=0.2)


async def until(pilot: Pilot[Any], condition: Callable[[], object], timeout: float = WAIT) -> None:
    """Let the app run until ``condition()`` holds; fail after ``timeout`` seconds."""
    async with asyncio.timeout(timeout):
        while not condition():
            await pilot.pause(0.01)


def fast_connection(address: Address, name: str) -> Connection:
    return ChatConnection(address, name, backoff=FAST, connect_timeout=WAIT)


class GatedConnection(ChatConnection):
    """A connection whose reconnection waits, after its backoff, until :attr:`gate` opens:
    a test decides when the client comes back (say, after others spoke meanwhile)."""

    def __init__(self, address: Address, name: str) -> None:
        super().__init__(address, name, backoff=FAST, connect_timeout=WAIT)
        self.gate = asyncio.Event()
        self.gate.set()

    async def wait_to_retry(self, delay: float) -> None:
        await super().wait_to_retry(delay)
        if not self.is_closing():
            await self.gate.wait()


def gated_connection(address: Address, name: str) -> Connection:
    return GatedConnection(address, name)


def connection_of(app: WirechatApp) -> ChatConnection:
    connection = app.connection
    assert isinstance(connection, ChatConnection)
    return connection


def gate_of(app: WirechatApp) -> asyncio.Event:
    """The gate of the app's :class:`GatedConnection`: clear it to hold the next reconnection."""
    connection = connection_of(app)
    assert isinstance(connection, GatedConnection)
    return connection.gate


def cut(app: WirechatApp) -> None:
    """Reset the app's TCP connection, as a network failure would."""
    writer = connection_of(app)._writer
    assert writer is not None, "not connected"
    abort_writer(writer)


async def submit(pilot: Pilot[Any], app: WirechatApp, line: str) -> None:
    """Enter ``line`` in the chat input (set at once: typing it key by key is slow)."""
    chat_of(app).chat_input.value = line
    await pilot.press("enter")


def listed(app: WirechatApp) -> list[str]:
    """The conversation list as shown: names, with unread counts and mention markers."""
    return [
        f"{'!' if item.mentioned else ''}{item.name}{f' {item.unread}' if item.unread else ''}"
        for item in chat_of(app).room_list.items
    ]


def current_name(app: WirechatApp) -> str:
    return chat_of(app).current.name


def topic_text(app: WirechatApp) -> str:
    return str(chat_of(app).topic_bar.render())


def app_for(
    server: ChatServer | Address | None,
    name: str = "",
    *,
    connect_now: bool = True,
    prefs_dir: Path | None = None,
    connect: ConnectionFactory = fast_connection,
    theme: str = "",
    config: ClientConfig | None = None,
) -> WirechatApp:
    """The app, pointed at ``server`` (or an address), with a fixed clock and UTC times."""
    address = Address(*server.address) if isinstance(server, ChatServer) else server
    return WirechatApp(
        address=address,
        name=name,
        connect_now=connect_now and bool(name),
        connect=connect,
        prefs=Prefs(prefs_dir / "client.json" if prefs_dir else None),
        theme=theme,
        clock=lambda: FIXED_MS / 1000,
        tz=UTC,
        config=config,
    )


def chat_of(app: WirechatApp) -> ChatScreen:
    assert app.chat is not None, "the app is not on the chat screen"
    return app.chat


def log_text(app: WirechatApp) -> str:
    """The whole chat log as plain text, one row per line."""
    return "\n".join(chat_of(app).chat_log.lines_text())


async def in_chat(pilot: Pilot[Any], app: WirechatApp) -> ChatScreen:
    """Wait until the app shows the chat screen, registered."""
    await until(
        pilot,
        lambda: app.screen is app.chat and app.chat.status_bar.state is LinkState.ONLINE,
    )
    return chat_of(app)


async def log_shows(pilot: Pilot[Any], app: WirechatApp, text: str) -> None:
    await until(pilot, lambda: app.chat is not None and text in log_text(app))


class ScriptedConnection:
    """A peer that plays a script, acknowledges what is said, and records it.

    The test can :meth:`push` more batches at any time; :meth:`factory` plugs it into the app.
    """

    def __init__(self, script: Sequence[Sequence[NetEvent]] = ()) -> None:
        self._address = Address("chat.example", 5001)
        self._name = ""
        self.said: list[tuple[str, bool]] = []
        self.requests: list[Request] = []
        self._inbox: asyncio.Queue[list[NetEvent] | None] = asyncio.Queue()
        self._ids = itertools.count(1)
        for batch in script:
            self.push(batch)

    def factory(self, address: Address, name: str) -> Connection:
        self._address, self._name = address, name
        return self

    @property
    def address(self) -> Address:
        return self._address

    @property
    def name(self) -> str:
        return self._name

    def push(self, batch: Sequence[NetEvent]) -> None:
        self._inbox.put_nowait(list(batch))

    async def updates(self) -> AsyncIterator[list[NetEvent]]:
        while (batch := await self._inbox.get()) is not None:
            yield batch
        yield [Disconnected("you left")]

    def say(
        self, text: str, *, action: bool = False, room: str | None = None, to: str | None = None
    ) -> str | None:
        self.said.append((text, action))
        client_id = f"s{next(self._ids)}"
        self.push([Ack(id=100 + len(self.said), ts=FIXED_MS, client_id=client_id)])
        return client_id

    def request(self, request: Request) -> bool:
        self.requests.append(request)
        return True

    async def close(self) -> None:
        self._inbox.put_nowait(None)


def welcome_script(name: str, users: Sequence[str]) -> list[NetEvent]:
    """The opening of a script: connecting, then registered among ``users``."""
    return [
        Connecting(Address("chat.example", 5001), 0),
        Registered(
            Welcome(name=name, users=list(users), version=PROTOCOL_VERSION, server="wirechat/test"),
            False,
        ),
    ]


@contextlib.asynccontextmanager
async def hostile_server(frames: Sequence[AnyMessage]) -> AsyncIterator[Address]:
    """A fake server that welcomes anyone, then sends ``frames`` verbatim: the real codec on
    the wire, but none of a real server's checks (it would refuse control characters)."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        decoder = Decoder(MAX_FRAME_BYTES)
        hello: Hello | None = None
        while hello is None:
            data = await reader.read(65536)
            if not data:
                return
            hello = next((m for m in decoder.feed(data) if isinstance(m, Hello)), None)
        welcome = Welcome(name=hello.name, users=[hello.name, "mallory"], version=PROTOCOL_VERSION)
        writer.write(encode(welcome))
        writer.write(b"".join(encode(frame) for frame in frames))
        await writer.drain()
        with contextlib.suppress(ConnectionError):
            while await reader.read(65536):
                pass
        writer.close()

    listener = await asyncio.start_server(serve, "127.0.0.1", 0)
    try:
        host, port = listener.sockets[0].getsockname()[:2]
        yield Address(host, port)
    finally:
        listener.close()
        await listener.wait_closed()
