"""Test helpers: a real server on an ephemeral port, and small raw-socket clients to drive it.

The clients speak to the server over real TCP sockets with the real codec, and every wait is a
wait for an event (a frame, a line, EOF) bounded by a timeout, never a sleep.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any, TypeVar

from wirechat_common import (
    MAX_SERVER_FRAME_BYTES,
    Decoder,
    Hello,
    ServerMessage,
    Welcome,
    encode,
)
from wirechat_common.messages import AnyMessage
from wirechat_server.config import ServerConfig
from wirechat_server.server import ChatServer

#: How long a test waits for something that should happen at once on loopback.
WAIT = 5.0

T = TypeVar("T")


@contextlib.asynccontextmanager
async def running_server(**settings: Any) -> AsyncIterator[ChatServer]:
    """A server on 127.0.0.1 and a free port with ``settings``, shut down afterwards."""
    settings.setdefault("port", 0)
    server = ChatServer(ServerConfig(**settings))
    await server.start()
    try:
        yield server
    finally:
        await server.shutdown()


class NativeClient:
    """A client of the native protocol on a real socket."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.decoder = Decoder(MAX_SERVER_FRAME_BYTES, types=ServerMessage)
        self.inbox: list[AnyMessage] = []
        self.welcome: Welcome | None = None

    @classmethod
    async def connect(
        cls, server: ChatServer, name: str | None = None, *, local_addr: str | None = None
    ) -> NativeClient:
        """Connect; with ``name``, also say hello and wait for the welcome."""
        host, port = server.address
        reader, writer = await asyncio.open_connection(
            host, port, local_addr=(local_addr, 0) if local_addr else None
        )
        client = cls(reader, writer)
        if name is not None:
            await client.send(Hello(name=name))
            client.welcome = await client.expect(Welcome)
        return client

    async def send(self, *messages: AnyMessage) -> None:
        self.writer.write(b"".join(encode(message) for message in messages))
        await self.writer.drain()

    async def send_raw(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def recv(self, timeout: float = WAIT) -> AnyMessage:
        """The next message from the server; raises ``EOFError`` if the server closed."""
        async with asyncio.timeout(timeout):
            while not self.inbox:
                data = await self.reader.read(65536)
                if not data:
                    raise EOFError("the server closed the connection")
                self.inbox.extend(self.decoder.feed(data))
        return self.inbox.pop(0)

    async def expect(self, kind: type[T], timeout: float = WAIT) -> T:
        """Skip messages until one of type ``kind`` arrives, and return it."""
        async with asyncio.timeout(timeout):
            while True:
                message = await self.recv(timeout)
                if isinstance(message, kind):
                    return message

    async def expect_closed(self, timeout: float = WAIT) -> list[AnyMessage]:
        """Read until EOF (or a reset); return everything received on the way."""
        seen: list[AnyMessage] = []
        async with asyncio.timeout(timeout):
            while True:
                try:
                    seen.append(await self.recv(timeout))
                except (EOFError, ConnectionResetError):
                    return seen

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()


class PlainClient:
    """A plain-text (netcat-style) client on a real socket."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def connect(
        cls, server: ChatServer, name: str | None = None, *, newline: bool = True
    ) -> PlainClient:
        """Connect; with ``name``, send it (with or without a newline) and wait for the welcome."""
        host, port = server.address
        reader, writer = await asyncio.open_connection(host, port)
        client = cls(reader, writer)
        if name is not None:
            await client.send_raw(name.encode() + (b"\n" if newline else b""))
            await client.expect_line(lambda line: "Welcome" in line)
        return client

    async def send_line(self, text: str) -> None:
        await self.send_raw(text.encode() + b"\n")

    async def send_raw(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def recv_line(self, timeout: float = WAIT) -> str:
        """The next line, without its newline; raises ``EOFError`` at end of stream."""
        async with asyncio.timeout(timeout):
            line = await self.reader.readline()
        if not line:
            raise EOFError("the server closed the connection")
        return line.decode().removesuffix("\n")

    async def expect_line(self, wanted: Any, timeout: float = WAIT) -> str:
        """Skip lines until one equal to ``wanted`` (or for which ``wanted(line)`` is true)."""
        async with asyncio.timeout(timeout):
            while True:
                line = await self.recv_line(timeout)
                if (wanted(line) if callable(wanted) else line == wanted):
                    return line

    async def expect_closed(self, timeout: float = WAIT) -> list[str]:
        lines: list[str] = []
        async with asyncio.timeout(timeout):
            while True:
                try:
                    lines.append(await self.recv_line(timeout))
                except (EOFError, ConnectionResetError):
                    return lines

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()
