"""Shared by the rooms, direct-message, history, resume and storage-fault tests.

A server with storage in a fresh directory (or a given one), a native client that knows the
room requests, and a TCP proxy that can swallow an ack. Every wait is for a frame, bounded by
:data:`~tests.support.net.WAIT`; "nothing arrived" is shown by a later marker arriving first.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from tests.support.net import WAIT, NativeClient, Target, abort_writer, open_socket, running_server
from wirechat_common import (
    MAX_SERVER_FRAME_BYTES,
    Ack,
    Decoder,
    Error,
    GetHistory,
    Hello,
    History,
    Join,
    Message,
    Ping,
    Pong,
    RoomInfo,
    RoomList,
    Say,
    ServerMessage,
    Topic,
    Users,
    Welcome,
)
from wirechat_common.messages import AnyMessage
from wirechat_server.server import ChatServer

T = TypeVar("T")

#: What these tests run with unless they say otherwise: no rate limit (they pipeline hundreds
#: of requests) and room for the refusals some of them provoke on purpose.
DEFAULTS: dict[str, Any] = {"port": 0, "msg_rate": 0, "max_consecutive_errors": 1000}

_tokens = itertools.count()


@contextlib.asynccontextmanager
async def serving(
    data_dir: Path | None = None,
    *,
    store_hook: Callable[[int], None] | None = None,
    **settings: Any,
) -> AsyncIterator[ChatServer]:
    """An in-process server with :data:`DEFAULTS` and ``settings``, storing in ``data_dir``
    (a fresh temporary directory when ``None``), shut down afterwards."""
    if data_dir is not None:
        settings["data_dir"] = str(data_dir)
    async with running_server(store_hook=store_hook, **{**DEFAULTS, **settings}) as server:
        yield server


def ids(messages: Iterable[Message | Ack]) -> list[int]:
    return [message.id for message in messages]


def texts(messages: Iterable[Message]) -> list[str]:
    return [message.text for message in messages]


def strictly_increasing(values: Sequence[int]) -> bool:
    return all(a < b for a, b in itertools.pairwise(values))


class Chat(NativeClient):
    """A native client with the room, direct-message and history requests."""

    @classmethod
    async def open(cls, target: Target) -> Chat:
        """Connect without registering."""
        return cls(*await open_socket(target))

    @classmethod
    async def hello(
        cls,
        target: Target,
        name: str,
        *,
        session: str | None = None,
        rooms: dict[str, int] | None = None,
        dm_after: int | None = None,
    ) -> Chat:
        """Connect and register; the frames after the welcome stay in :attr:`inbox`."""
        client = await cls.open(target)
        reply = await client.register(name, session=session, rooms=rooms, dm_after=dm_after)
        if not isinstance(reply, Welcome):
            await client.close()
            raise AssertionError(f"hello as {name} refused: {reply}")
        return client

    async def register(
        self,
        name: str,
        *,
        session: str | None = None,
        rooms: dict[str, int] | None = None,
        dm_after: int | None = None,
    ) -> Welcome | Error:
        """Send a hello; return the welcome (also kept as :attr:`welcome`) or the refusal."""
        await self.send(Hello(name=name, session=session, rooms=rooms, dm_after=dm_after))
        reply = await self.answer(Welcome, Error)
        assert isinstance(reply, Welcome | Error)
        if isinstance(reply, Welcome):
            self.welcome = reply
        return reply

    @property
    def name(self) -> str:
        assert self.welcome is not None
        return self.welcome.name

    @property
    def session(self) -> str:
        assert self.welcome is not None
        assert self.welcome.session, "no session in the welcome"
        return self.welcome.session

    async def answer(
        self,
        *kinds: type[Any],
        timeout: float = WAIT,
        where: Callable[[Any], bool] | None = None,
    ) -> AnyMessage:
        """The first message of one of ``kinds`` (for which ``where`` holds, if given); what
        came before it stays in :attr:`inbox`."""
        skipped: list[AnyMessage] = []
        try:
            async with asyncio.timeout(timeout):
                while True:
                    message = await self.recv(timeout)
                    if isinstance(message, kinds) and (where is None or where(message)):
                        found: AnyMessage = message
                        return found
                    skipped.append(message)
        finally:
            self.inbox[:0] = skipped

    async def reply_to(
        self,
        request: AnyMessage,
        *kinds: type[Any],
        where: Callable[[Any], bool] | None = None,
    ) -> AnyMessage:
        """Send ``request`` and return the first message of one of ``kinds`` sent after the
        server read it: a ping goes just before it, and what came before the pong stays in
        :attr:`inbox` (so a stale frame of the same kind is never taken for the answer)."""
        token = f"before-{next(_tokens)}"
        await self.send(Ping(token=token), request)
        before: list[AnyMessage] = []
        try:
            async with asyncio.timeout(WAIT):
                while True:
                    message = await self.recv()
                    if isinstance(message, Pong) and message.token == token:
                        break
                    before.append(message)
            return await self.answer(*kinds, where=where)
        finally:
            self.inbox[:0] = before

    async def drain(self, timeout: float = WAIT) -> list[AnyMessage]:
        """Everything the server sent before the answer to a fresh ping (a barrier), taken out
        of :attr:`inbox`."""
        token = f"drain-{next(_tokens)}"
        await self.send(Ping(token=token))
        seen: list[AnyMessage] = []
        async with asyncio.timeout(timeout):
            while True:
                message = await self.recv(timeout)
                if isinstance(message, Pong) and message.token == token:
                    return seen
                seen.append(message)

    async def say(
        self,
        text: str,
        *,
        room: str | None = None,
        to: str | None = None,
        client_id: str | None = None,
        action: bool = False,
    ) -> Ack:
        """Say ``text`` and wait for its ack (an error fails the test)."""
        cid = client_id or f"auto-{next(_tokens)}"
        request = Say(text=text, room=room, to=to, client_id=cid, action=action)
        reply = await self.reply_to(request, Ack, Error)
        assert isinstance(reply, Ack), f"{text!r} refused: {reply}"
        assert reply.client_id == cid
        return reply

    async def refused(self, request: AnyMessage) -> Error:
        """Send ``request``; its answer must be an error, which is returned."""
        answers = (Error, Ack, History, RoomInfo, Users, RoomList, Topic, Welcome)
        reply = await self.reply_to(request, *answers)
        assert isinstance(reply, Error), f"{request} was answered with {reply}"
        return reply

    async def seed(
        self, count: int, *, room: str | None = None, to: str | None = None, prefix: str = "m"
    ) -> list[Ack]:
        """Say ``prefix0`` .. ``prefix{count-1}`` pipelined, and return the acks in order."""
        cids = [f"{prefix}-{n}-{next(_tokens)}" for n in range(count)]
        await self.send(
            *(
                Say(text=f"{prefix}{n}", room=room, to=to, client_id=cid)
                for n, cid in enumerate(cids)
            )
        )
        acks: list[Ack] = []
        while len(acks) < count:
            reply = await self.answer(Ack, Error)
            assert isinstance(reply, Ack), f"seeding refused: {reply}"
            acks.append(reply)
        assert [ack.client_id for ack in acks] == cids
        return acks

    async def join(self, room: str) -> tuple[RoomInfo, History]:
        """Join ``room``: its ``room`` frame and then its ``history``."""

        def this_room(frame: Any) -> bool:
            return isinstance(frame, Error) or frame.room.lower() == room.lower()

        info = await self.reply_to(Join(room=room), RoomInfo, Error, where=this_room)
        assert isinstance(info, RoomInfo), f"join {room} refused: {info}"
        history = await self.answer(History, Error, where=this_room)
        assert isinstance(history, History), f"no history after joining {room}: {history}"
        return info, history

    async def page(
        self,
        room: str,
        *,
        before: int | None = None,
        after: int | None = None,
        limit: int | None = None,
    ) -> History:
        """One ``get_history`` page (an error fails the test)."""
        request = GetHistory(room=room, before=before, after=after, limit=limit)
        reply = await self.reply_to(request, History, Error)
        assert isinstance(reply, History), f"history of {room} refused: {reply}"
        assert reply.room == room
        return reply

    async def everything(self, room: str, limit: int) -> list[Message]:
        """All of ``room``'s stored messages, paged back from the newest ``limit`` at a time."""
        page = await self.page(room, limit=limit)
        found = list(page.messages)
        while page.more:
            page = await self.page(room, before=found[0].id, limit=limit)
            assert page.messages, "more was true but the next page is empty"
            found[:0] = page.messages
        return found


def texts_of(frames: Iterable[object]) -> list[str]:
    """The texts of the ``message`` frames among ``frames``, in order."""
    return [m.text for m in frames if isinstance(m, Message)]


def of_type(messages: Iterable[AnyMessage], kind: type[T]) -> list[T]:
    return [message for message in messages if isinstance(message, kind)]


def of_types(messages: Iterable[AnyMessage], *kinds: type[Any]) -> list[AnyMessage]:
    return [message for message in messages if isinstance(message, kinds)]


async def quiet(client: Chat, *allowed: type[Any]) -> list[AnyMessage]:
    """Drain ``client`` and check that only messages of the ``allowed`` types had arrived."""
    seen = await client.drain()
    unexpected = [message for message in seen if not isinstance(message, allowed)]
    assert not unexpected, f"unexpected: {unexpected}"
    return seen


class AckCutter:
    """A TCP proxy for one connection that cuts it the moment the server acks ``client_id``.

    Client to server bytes pass through; server to client bytes pass through until the ack for
    ``client_id`` shows up, which is swallowed, and both sides are reset. So the server has
    read (and stored) that ``say``, and the client never learns it: catalogue E2.
    """

    def __init__(self, upstream: Target, client_id: str) -> None:
        self.upstream = upstream
        self.needle = f'"client_id":"{client_id}"'.encode()
        self.swallowed: Ack | None = None
        self.cut = asyncio.Event()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def address(self) -> tuple[str, int]:
        assert self._server is not None
        host, port = self._server.sockets[0].getsockname()[:2]
        return host, port

    async def __aenter__(self) -> AckCutter:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await task

    def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.create_task(self._relay(reader, writer))
        self._tasks.add(task)

    async def _relay(
        self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter
    ) -> None:
        server_reader, server_writer = await open_socket(self.upstream)

        async def upward() -> None:
            while data := await client_reader.read(65536):
                server_writer.write(data)
                await server_writer.drain()

        async def downward() -> None:
            pending = b""
            while data := await server_reader.read(65536):
                pending += data
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    if self.needle in line and b'"type":"ack"' in line:
                        (ack,) = Decoder(MAX_SERVER_FRAME_BYTES, types=ServerMessage).feed(
                            line + b"\n"
                        )
                        assert isinstance(ack, Ack)
                        self.swallowed = ack
                        abort_writer(client_writer)
                        abort_writer(server_writer)
                        self.cut.set()
                        return
                    client_writer.write(line + b"\n")
                await client_writer.drain()

        up = asyncio.create_task(upward())
        try:
            await downward()
        finally:
            up.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await up
            for writer in (client_writer, server_writer):
                writer.close()
