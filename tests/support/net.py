"""Test helpers: a real server on an ephemeral port, and small raw-socket clients to drive it.

The clients speak to the server over real TCP sockets with the real codec, and every wait is a
wait for an event (a frame, a line, EOF) bounded by a timeout, never a sleep.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import socket
import struct
import tempfile
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any, TypeAlias, TypeVar

from wirechat_common import (
    MAX_SERVER_FRAME_BYTES,
    Decoder,
    Hello,
    History,
    Joined,
    Left,
    Message,
    Ping,
    Pong,
    RoomInfo,
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

#: Where to connect: an in-process server, or the (host, port) of one in another process.
Target: TypeAlias = ChatServer | tuple[str, int]

_tokens = itertools.count()


async def eventually(
    condition: Callable[[], bool], *, timeout: float = WAIT, poll: float = 0.01
) -> None:
    """Wait until ``condition()`` holds: for state that no client can observe as an event (the
    server's own bookkeeping, a counter of writes). Fails after ``timeout``."""
    async with asyncio.timeout(timeout):
        while not condition():  # noqa: ASYNC110 - no event exists for this to await
            await asyncio.sleep(poll)


def address_of(target: Target) -> tuple[str, int]:
    """The (host, port) to connect to for ``target``."""
    return target.address if isinstance(target, ChatServer) else target


async def open_socket(
    target: Target,
    *,
    local_addr: str | None = None,
    nodelay: bool = False,
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Open a TCP connection to ``target`` from ``local_addr`` (any 127.x address works as a
    distinct source); ``nodelay`` sets ``TCP_NODELAY`` so that each write leaves as a segment.
    """
    host, port = address_of(target)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        if nodelay:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if local_addr:
            sock.bind((local_addr, 0))
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, (host, port))
    except BaseException:
        sock.close()
        raise
    return await asyncio.open_connection(sock=sock)


def abort_writer(writer: asyncio.StreamWriter) -> None:
    """Close abortively: ``SO_LINGER`` (1, 0) makes the kernel send RST instead of FIN."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


@contextlib.asynccontextmanager
async def running_server(
    *, store_hook: Callable[[int], None] | None = None, **settings: Any
) -> AsyncIterator[ChatServer]:
    """A server on 127.0.0.1 and a free port with ``settings``, shut down afterwards.

    Unless ``data_dir`` is given, the server keeps its messages in a fresh temporary directory,
    removed afterwards.
    """
    settings.setdefault("port", 0)
    with contextlib.ExitStack() as stack:
        if "data_dir" not in settings:
            settings["data_dir"] = stack.enter_context(
                tempfile.TemporaryDirectory(prefix="wirechat-test-")
            )
        server = ChatServer(ServerConfig(**settings), store_hook=store_hook)
        await server.start()
        try:
            yield server
        finally:
            await server.shutdown()


async def push_until_closed(
    target: Target,
    chunks: Iterable[bytes],
    timeout: float = WAIT,
    *,
    first: bytes = b"",
    until: bytes = b"",
) -> tuple[int, bytes]:
    """Send ``chunks`` on a raw socket until they run out or the server cuts the connection.

    With ``first``, send it before the chunks and wait until the server's output contains
    ``until`` (say, the end of a registration) before going on; ``first`` is not counted.
    Returns how many bytes of the chunks the kernel accepted before the send failed (or all of
    them) and everything the server sent back before EOF or a reset. The loop yields between
    chunks, so an in-process server reads each chunk before the next one is sent, as a remote
    one would.
    """
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    sent = 0
    received = b""
    try:
        async with asyncio.timeout(timeout):
            await loop.sock_connect(sock, address_of(target))
            if first:
                await loop.sock_sendall(sock, first)
                while until not in received:
                    data = await loop.sock_recv(sock, 65536)
                    if not data:
                        break
                    received += data
            for chunk in chunks:
                try:
                    await loop.sock_sendall(sock, chunk)
                except (BrokenPipeError, ConnectionResetError):
                    break
                sent += len(chunk)
                await asyncio.sleep(0)  # a yield, not a wait: let the server read it
            while True:
                try:
                    data = await loop.sock_recv(sock, 65536)
                except ConnectionResetError:
                    break
                if not data:
                    break
                received += data
    finally:
        sock.close()
    return sent, received


class NonReader:
    """A client that registers and then never reads a byte: a raw socket whose receive buffer
    is as small as the kernel allows, so what the server sends it piles up at the server."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    @classmethod
    async def connect(cls, server: Target, name: str, *, plain: bool = False) -> NonReader:
        loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1)  # clamped to the minimum
        sock.setblocking(False)
        try:
            await loop.sock_connect(sock, address_of(server))
            hello = f"{name}\n".encode() if plain else encode(Hello(name=name))
            await loop.sock_sendall(sock, hello)
        except BaseException:
            sock.close()
            raise
        return cls(sock)

    def close(self) -> None:
        self.sock.close()


class _SocketClient:
    """What both kinds of test client do with their socket."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def send_raw(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    def abort(self) -> None:
        """Reset the connection (RST), as a crashed peer or a pulled cable would."""
        abort_writer(self.writer)

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()


class NativeClient(_SocketClient):
    """A client of the native protocol on a real socket."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        super().__init__(reader, writer)
        self.decoder = Decoder(MAX_SERVER_FRAME_BYTES, types=ServerMessage)
        self.inbox: list[AnyMessage] = []
        self.welcome: Welcome | None = None
        self.lobby: RoomInfo | None = None
        self.lobby_history: History | None = None
        #: When true, :meth:`recv` answers the server's pings itself and never returns them.
        self.auto_pong = False

    @classmethod
    async def connect(
        cls,
        server: Target,
        name: str | None = None,
        *,
        local_addr: str | None = None,
        nodelay: bool = False,
    ) -> NativeClient:
        """Connect; with ``name``, also say hello and wait for the welcome and the lobby's
        ``room`` and ``history`` frames that follow it."""
        reader, writer = await open_socket(server, local_addr=local_addr, nodelay=nodelay)
        client = cls(reader, writer)
        if name is not None:
            await client.send(Hello(name=name))
            client.welcome = await client.expect(Welcome)
            client.lobby = await client.expect_next(RoomInfo)
            client.lobby_history = await client.expect_next(History)
        return client

    async def expect_next(self, kind: type[T], timeout: float = WAIT) -> T:
        """The next message, which must be of type ``kind``."""
        message = await self.recv(timeout)
        assert isinstance(message, kind), f"expected {kind.__name__}, got {message!r}"
        return message

    async def send(self, *messages: AnyMessage) -> None:
        self.writer.write(b"".join(encode(message) for message in messages))
        await self.writer.drain()

    async def recv(self, timeout: float = WAIT) -> AnyMessage:
        """The next message from the server; raises ``EOFError`` if the server closed."""
        async with asyncio.timeout(timeout):
            while not self.inbox:
                data = await self.reader.read(65536)
                if not data:
                    raise EOFError("the server closed the connection")
                for message in self.decoder.feed(data):
                    if self.auto_pong and isinstance(message, Ping):
                        await self.send(Pong(token=message.token))
                    else:
                        self.inbox.append(message)
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

    async def sync(self, timeout: float = WAIT) -> None:
        """A barrier: ping the server and wait for the pong, keeping what arrived before it.

        With an in-process server the round trip takes several loop turns, so whatever the
        server had already scheduled (a teardown, a flush) has run when this returns.
        """
        token = f"sync-{next(_tokens)}"
        await self.send(Ping(token=token))
        before: list[AnyMessage] = []
        async with asyncio.timeout(timeout):
            while True:
                message = await self.recv(timeout)
                if isinstance(message, Pong) and message.token == token:
                    break
                before.append(message)
        self.inbox[:0] = before

    async def collect(self, kind: type[T], count: int, timeout: float = WAIT) -> list[T]:
        """The next ``count`` messages of type ``kind``, skipping any others."""
        found: list[T] = []
        async with asyncio.timeout(timeout):
            while len(found) < count:
                found.append(await self.expect(kind, timeout))
        return found


class PlainClient(_SocketClient):
    """A plain-text (netcat-style) client on a real socket."""

    @classmethod
    async def connect(
        cls, server: Target, name: str | None = None, *, newline: bool = True
    ) -> PlainClient:
        """Connect; with ``name``, send it (with or without a newline) and wait for the welcome."""
        reader, writer = await open_socket(server)
        client = cls(reader, writer)
        if name is not None:
            await client.send_raw(name.encode() + (b"\n" if newline else b""))
            await client.expect_line(lambda line: "Welcome" in line)
        return client

    async def send_line(self, text: str) -> None:
        await self.send_raw(text.encode() + b"\n")

    async def recv_line(self, timeout: float = WAIT) -> str:
        """The next line, without its newline; raises ``EOFError`` at end of stream."""
        return (await self.recv_raw_line(timeout)).decode().removesuffix("\n")

    async def recv_raw_line(self, timeout: float = WAIT) -> bytes:
        """The next line as the bytes that arrived, newline included; ``EOFError`` at the end."""
        async with asyncio.timeout(timeout):
            line = await self.reader.readline()
        if not line:
            raise EOFError("the server closed the connection")
        return line

    async def expect_line(self, wanted: Any, timeout: float = WAIT) -> str:
        """Skip lines until one equal to ``wanted`` (or for which ``wanted(line)`` is true)."""
        async with asyncio.timeout(timeout):
            while True:
                line = await self.recv_line(timeout)
                if wanted(line) if callable(wanted) else line == wanted:
                    return line

    async def expect_closed(self, timeout: float = WAIT) -> list[str]:
        lines: list[str] = []
        async with asyncio.timeout(timeout):
            while True:
                try:
                    lines.append(await self.recv_line(timeout))
                except (EOFError, ConnectionResetError):
                    return lines


class Listener:
    """Reads a native client's messages in the background, answering pings, and sorts them.

    For a client that must keep listening while the test does other things: a slow-consumer
    observer counting messages, or a witness that must not itself be dropped as idle.
    """

    def __init__(self, client: NativeClient) -> None:
        self.client = client
        client.auto_pong = True
        self.messages: list[Message] = []
        self.left: list[Left] = []
        self.joined: list[str] = []
        self.left_event = asyncio.Event()
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            self._note(await self.client.recv(timeout=60))

    def _note(self, message: AnyMessage) -> None:
        if isinstance(message, Message):
            self.messages.append(message)
        elif isinstance(message, Left):
            self.left.append(message)
            self.left_event.set()
        elif isinstance(message, Joined):
            self.joined.append(message.name)

    async def finish(self) -> None:
        """Stop reading in the background, then take in everything the server sent so far."""
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task  # re-raises whatever ended the reader early (EOF, a timeout)
        await self.client.sync()  # a barrier: all that was sent before the pong is in
        for message in self.client.inbox:
            self._note(message)
        self.client.inbox.clear()


async def run_lab_transcript(target: Target) -> tuple[PlainClient, NativeClient]:
    """The lab exercise's transcript: Ryuka (the lab client: a name with no newline, then plain
    lines) and Ash (native) chat, then Ryuka says ``bye``. Returns both; Ash is still in."""
    from wirechat_common import LeaveReason, Left, Message, Say

    ryuka = await PlainClient.connect(target, "Ryuka", newline=False)
    ash = await NativeClient.connect(target, "Ash")
    assert ash.welcome is not None
    assert ash.welcome.users == ["Ash", "Ryuka"]
    assert await ryuka.recv_line() == "Ash joined the conversation"
    await ash.send(Say(text="Hey there"))
    assert await ryuka.recv_line() == "Ash: Hey there"
    await ryuka.send_line("Hello")
    message = await ash.expect(Message)
    assert (message.sender, message.text) == ("Ryuka", "Hello")
    await ryuka.send_line("bye")
    assert await ryuka.expect_closed() == ["Goodbye!"]
    left = await ash.expect(Left)
    assert (left.name, left.reason) == ("Ryuka", LeaveReason.QUIT)
    return ryuka, ash
