"""A user speaking one dialect, for the contract suite (``test_contract.py``).

:class:`Speaker` is what every dialect's test client offers: register a name, say lines, hear
what the others say and who comes and goes, and leave in the ways a user can. Each dialect
turns its own wire into the same few :data:`Event` s (:class:`Said`, :class:`Arrived`,
:class:`Departed`, :class:`Refused`, ...), so that one scenario runs unchanged over all of them.
The speakers talk to a real server over real sockets with the real codec; every wait is for an
event, bounded by :data:`~tests.support.net.WAIT`.

:data:`DIALECTS` lists one speaker class per dialect the server serves. To add a dialect (IRC,
say), subclass :class:`Speaker` here, filling in the abstract methods, and append the class to
:data:`DIALECTS`: every contract scenario then runs over it, paired with every dialect, its own
included.

The events are this suite's vocabulary, not the protocol's: a native ``message`` in
``#lobby`` and a plain ``NAME: TEXT`` line are both :class:`Said`. Only the lobby is covered, the
one conversation every dialect shares.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import re
import socket
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar, Final, Self, TypeAlias, TypeVar

from tests.support.net import WAIT, NonReader, Target, abort_writer, address_of, open_socket
from wirechat_common import (
    DEFAULT_ROOM,
    MAX_SERVER_FRAME_BYTES,
    Ack,
    Bye,
    Decoder,
    Error,
    Hello,
    History,
    Joined,
    LeaveReason,
    Left,
    Message,
    Ping,
    Pong,
    Say,
    ServerMessage,
    Users,
    Welcome,
    encode,
)
from wirechat_common.messages import AnyMessage

# -- what a speaker hears, in any dialect --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Said:
    """A chat line in the lobby: ``sender`` said ``text``."""

    sender: str
    text: str


@dataclass(frozen=True, slots=True)
class Arrived:
    """``name`` joined the lobby."""

    name: str


@dataclass(frozen=True, slots=True)
class Departed:
    """``name`` left the lobby; ``reason`` is a :class:`~wirechat_common.LeaveReason` value."""

    name: str
    reason: str


@dataclass(frozen=True, slots=True)
class Welcomed:
    """Registration succeeded; ``users`` is who the welcome says is here."""

    users: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Recalled:
    """The lobby's recent lines, shown on arrival (native: the ``history`` frame)."""

    lines: tuple[Said, ...]


@dataclass(frozen=True, slots=True)
class Refused:
    """The server refused something; ``code`` is an :class:`~wirechat_common.ErrorCode` value."""

    code: str


@dataclass(frozen=True, slots=True)
class Closing:
    """The server says goodbye (``reason``: why, a ``LeaveReason`` value) and will close."""

    reason: str


@dataclass(frozen=True, slots=True)
class Listed:
    """The answer to "who is here"."""

    users: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Acked:
    """The server stored a line this speaker said (native only)."""

    client_id: str | None


@dataclass(frozen=True, slots=True)
class Synced:
    """The answer to a barrier request (native: a ``pong``)."""

    token: str | None


@dataclass(frozen=True, slots=True)
class Other:
    """Anything else, kept as text so a failing assertion shows it."""

    what: str


Event: TypeAlias = (
    Said | Arrived | Departed | Welcomed | Recalled | Refused | Closing | Listed | Acked | Synced
) | Other
E = TypeVar("E")


@dataclass(frozen=True, slots=True)
class Registered:
    """A successful registration: who the welcome listed and the lines shown on arrival."""

    users: tuple[str, ...]
    history: tuple[Said, ...]


def _in_lobby(room: str | None) -> bool:
    return room is None or room.lower() == DEFAULT_ROOM


# -- the interface -----------------------------------------------------------------------------


class Speaker(ABC):
    """A user speaking one dialect over a real TCP connection.

    Received data is parsed into :data:`Event` s kept in :attr:`events`; the ``expect`` family
    takes the first event that matches and leaves the others, in order, for later.
    """

    #: The dialect's name, for test ids.
    dialect: ClassVar[str]
    #: Whether a refused name leaves the connection open to try another one.
    retries_name: ClassVar[bool]

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.events: deque[Event] = deque()
        self.name = ""

    def __repr__(self) -> str:
        return f"<{self.dialect} {self.name or '(unregistered)'}>"

    # -- what each dialect provides ------------------------------------------------------------

    @classmethod
    @abstractmethod
    def opening(cls, name: str) -> bytes:
        """The bytes that ask to register as ``name``."""

    @classmethod
    @abstractmethod
    def lines(cls, texts: Sequence[str]) -> bytes:
        """The bytes that say each of ``texts`` in the lobby, in order."""

    @abstractmethod
    def parse(self, data: bytes) -> list[Event]:
        """The events in ``data``, the next bytes received (keeping any incomplete tail)."""

    @abstractmethod
    async def say_all(self, texts: Sequence[str]) -> None:
        """Say each of ``texts``, returning once the server has taken them all as far as this
        dialect can tell (native: acknowledged, so stored; plain: sent)."""

    @abstractmethod
    def barrier(self) -> tuple[bytes, Callable[[Event], bool]]:
        """A request answered at once, and how to recognise its answer."""

    @abstractmethod
    def farewell(self) -> bytes:
        """The bytes that leave the chat on purpose."""

    @abstractmethod
    async def recall(self) -> tuple[Said, ...]:
        """The lines shown on arrival, read right after the welcome."""

    # -- connecting and registering ------------------------------------------------------------

    @classmethod
    async def open(cls, target: Target) -> Self:
        """Connect without registering."""
        return cls(*await open_socket(target))

    async def register(self, name: str) -> Registered | Refused:
        """Ask for ``name``: what the welcome said, or the refusal."""
        await self.send(self.opening(name))
        reply = await self.expect_any((Welcomed, Refused))
        if isinstance(reply, Refused):
            return reply
        assert isinstance(reply, Welcomed)
        self.name = name
        return Registered(users=reply.users, history=await self.recall())

    # -- talking -------------------------------------------------------------------------------

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def say(self, text: str) -> None:
        await self.say_all([text])

    async def drain(self, timeout: float = WAIT) -> list[Event]:
        """Everything received before the answer to a fresh barrier request, taken out of
        :attr:`events`: what the server had sent when it read the request."""
        request, is_answer = self.barrier()
        await self.send(request)
        seen: list[Event] = []
        async with self._deadline("the answer to a barrier", timeout):
            while not is_answer(event := await self._next()):
                seen.append(event)
        return seen

    # -- hearing -------------------------------------------------------------------------------

    async def expect_any(
        self,
        kinds: tuple[type[object], ...],
        where: Callable[[Event], bool] = lambda _: True,
        timeout: float = WAIT,
    ) -> Event:
        """The first event of one of ``kinds`` for which ``where`` holds; the events before it
        stay in :attr:`events`."""
        skipped: list[Event] = []
        try:
            async with self._deadline(f"{[k.__name__ for k in kinds]}", timeout):
                while not (isinstance(event := await self._next(), kinds) and where(event)):
                    skipped.append(event)
            return event
        finally:
            self.events.extendleft(reversed(skipped))

    async def expect(
        self, kind: type[E], where: Callable[[E], bool] = lambda _: True, timeout: float = WAIT
    ) -> E:
        """The first event of type ``kind`` for which ``where`` holds (see :meth:`expect_any`)."""
        event = await self.expect_any(
            (kind,),
            lambda event: isinstance(event, kind) and where(event),
            timeout,
        )
        assert isinstance(event, kind)
        return event

    async def heard(self, timeout: float = WAIT) -> Said:
        """The next chat line, skipping presence and the rest."""
        return await self.expect(Said, timeout=timeout)

    async def hear(self, count: int) -> list[Said]:
        """The next ``count`` chat lines."""
        return [await self.heard() for _ in range(count)]

    async def saw_join(self, name: str) -> None:
        await self.expect(Arrived, lambda event: event.name == name)

    async def saw_leave(self, name: str) -> str:
        """Wait until ``name`` is said to have left; return the reason given."""
        return (await self.expect(Departed, lambda event: event.name == name)).reason

    # -- leaving -------------------------------------------------------------------------------

    async def quit(self) -> list[Event]:
        """Leave on purpose; return what arrived until the server closed the connection."""
        await self.send(self.farewell())
        return await self.expect_closed()

    async def hang_up(self) -> None:
        """Close the connection without a word (FIN), as a killed client does."""
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()

    def reset(self) -> None:
        """Reset the connection (RST), as a crashed peer or a pulled cable would."""
        abort_writer(self.writer)

    async def expect_closed(self, timeout: float = WAIT) -> list[Event]:
        """Read until the server closes the connection; return every event not yet taken."""
        seen: list[Event] = []
        async with self._deadline("the end of the connection", timeout):
            while True:
                try:
                    seen.append(await self._next())
                except (EOFError, ConnectionResetError):
                    return seen

    async def close(self) -> None:
        """Clean-up at the end of a test, whatever state the connection is in."""
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()

    # -- plumbing ------------------------------------------------------------------------------

    async def _next(self) -> Event:
        """The next event, reading the socket when none is pending; ``EOFError`` at the end."""
        while not self.events:
            data = await self.reader.read(65536)
            if not data:
                raise EOFError(f"{self!r}: the server closed the connection")
            self.events.extend(self.parse(data))
        return self.events.popleft()

    @contextlib.asynccontextmanager
    async def _deadline(self, what: str, timeout: float) -> AsyncIterator[None]:
        """Fail with what was awaited and what had arrived, rather than a bare timeout."""
        try:
            async with asyncio.timeout(timeout):
                yield
        except TimeoutError:
            raise AssertionError(
                f"{self!r}: no {what} within {timeout} s; pending: {list(self.events)}"
            ) from None


# -- the dialects ------------------------------------------------------------------------------

_request_ids = itertools.count()


class NativeSpeaker(Speaker):
    """JSON frames (``wirechat_common``): ``hello``, ``say`` with an ``ack``, ``bye``."""

    dialect = "native"
    retries_name = True  # name_taken is not fatal: the client may send another hello

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        super().__init__(reader, writer)
        self.decoder = Decoder(MAX_SERVER_FRAME_BYTES, types=ServerMessage)

    @classmethod
    def opening(cls, name: str) -> bytes:
        return encode(Hello(name=name))

    @classmethod
    def lines(cls, texts: Sequence[str]) -> bytes:
        return b"".join(encode(Say(text=text)) for text in texts)

    def parse(self, data: bytes) -> list[Event]:
        return [self._event(message) for message in self.decoder.feed(data)]

    @staticmethod
    def _event(message: AnyMessage) -> Event:
        match message:
            case Message(sender=sender, text=text, room=room, to=None) if _in_lobby(room):
                return Said(sender, text)
            case Joined(name=name, room=room) if _in_lobby(room):
                return Arrived(name)
            case Left(name=name, reason=reason, room=room) if _in_lobby(room):
                return Departed(name, reason)
            case Welcome(users=users):
                return Welcomed(tuple(users))
            case History(room=room, messages=messages) if _in_lobby(room):
                return Recalled(tuple(Said(m.sender, m.text) for m in messages))
            case Error(code=code):
                return Refused(code)
            case Bye(reason=reason):
                return Closing(reason or "")
            case Users(users=users):
                return Listed(tuple(users))
            case Ack(client_id=client_id):
                return Acked(client_id)
            case Pong(token=token):
                return Synced(token)
        return Other(repr(message))

    async def say_all(self, texts: Sequence[str]) -> None:
        ids = [f"say-{next(_request_ids)}" for _ in texts]
        await self.send(
            b"".join(
                encode(Say(text=text, client_id=cid)) for text, cid in zip(texts, ids, strict=True)
            )
        )
        unacked = set(ids)
        while unacked:
            ack = await self.expect(Acked, lambda ack: ack.client_id in unacked)
            unacked.discard(ack.client_id)

    def barrier(self) -> tuple[bytes, Callable[[Event], bool]]:
        token = f"barrier-{next(_request_ids)}"
        return encode(Ping(token=token)), lambda event: event == Synced(token)

    def farewell(self) -> bytes:
        return encode(Bye())

    async def recall(self) -> tuple[Said, ...]:
        return (await self.expect(Recalled)).lines


_NAME: Final = r"[A-Za-z0-9][A-Za-z0-9_.-]*"
_WELCOME: Final = re.compile(
    rf"Welcome to the chat, (?P<name>{_NAME})! "
    r"(?:You are the only one here|\d+ here: (?P<users>.*?))\. Type a line"
)
_ERROR: Final = re.compile(r"error: .* \((?P<code>[a-z_]+)\)")
_JOINED: Final = re.compile(rf"(?P<name>{_NAME}) joined the conversation")
_LEFT: Final = re.compile(rf"(?P<name>{_NAME}) left the conversation(?P<how>.*)")
_LISTED: Final = re.compile(r"\d+ here: (?P<users>.*)")
_SAID: Final = re.compile(rf"(?P<sender>{_NAME}): (?P<text>.*)")
#: How the plain dialect words each reason a user left (docs/protocol.md, "Plain text").
_HOW_LEFT: Final[dict[str, str]] = {
    "": LeaveReason.QUIT,
    " unexpectedly": LeaveReason.DROPPED,
    " (timed out)": LeaveReason.TIMEOUT,
    " (too slow to keep up)": LeaveReason.TOO_SLOW,
    " (flooding)": LeaveReason.FLOOD,
    " (cut off for flooding)": LeaveReason.FLOOD,  # wirechat_common.wording's phrase
    " (kicked)": LeaveReason.KICKED,
}


class PlainSpeaker(Speaker):
    """Lines of text, like ``nc``: the first line is the name, then each line is said.

    A chat line from a user called ``error`` whose text ends in ``(word)`` would read as a
    refusal: the dialect cannot tell them apart, so no scenario uses that name.
    """

    dialect = "plain"
    retries_name = False  # "Username already taken!" and the connection closes

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        super().__init__(reader, writer)
        self._tail = b""

    @classmethod
    def opening(cls, name: str) -> bytes:
        return f"{name}\n".encode()

    @classmethod
    def lines(cls, texts: Sequence[str]) -> bytes:
        return b"".join(f"{text}\n".encode() for text in texts)

    def parse(self, data: bytes) -> list[Event]:
        *lines, self._tail = (self._tail + data).split(b"\n")
        return [self._event(line.decode("utf-8")) for line in lines]

    @staticmethod
    def _event(line: str) -> Event:
        if match := _WELCOME.match(line):
            users = match["users"]  # None: "You are the only one here"
            return Welcomed(tuple(users.split(", ")) if users else (match["name"],))
        if line == "Username already taken!":
            return Refused("name_taken")
        if line == "Goodbye!":
            return Closing(LeaveReason.QUIT)
        if line == "The server is shutting down. Goodbye!":
            return Closing(LeaveReason.SHUTDOWN)
        if match := _ERROR.fullmatch(line):
            return Refused(match["code"])
        if match := _JOINED.fullmatch(line):
            return Arrived(match["name"])
        if match := _LEFT.fullmatch(line):
            how = match["how"]
            return Departed(match["name"], _HOW_LEFT.get(how, how.strip(" ()")))
        if match := _LISTED.fullmatch(line):
            return Listed(tuple(match["users"].split(", ")))
        if match := _SAID.fullmatch(line):
            return Said(match["sender"], match["text"])
        return Other(line)

    async def say_all(self, texts: Sequence[str]) -> None:
        await self.send(self.lines(texts))

    def barrier(self) -> tuple[bytes, Callable[[Event], bool]]:
        # Nothing else in these scenarios asks /who, so its answer is this barrier's.
        return b"/who\n", lambda event: isinstance(event, Listed)

    def farewell(self) -> bytes:
        return b"bye\n"

    async def recall(self) -> tuple[Said, ...]:
        # The past lines come right after the welcome line, before the answer to anything.
        before = await self.drain()
        self.events.extendleft(reversed([e for e in before if not isinstance(e, Said)]))
        return tuple(e for e in before if isinstance(e, Said))


#: Every dialect the server serves: the one place a new dialect is added.
DIALECTS: Final[list[type[Speaker]]] = [NativeSpeaker, PlainSpeaker]


# -- a cast of speakers ------------------------------------------------------------------------


class Cast:
    """The speakers of one scenario against one server, all closed when it ends."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self._speakers: list[Speaker] = []
        self._silent: list[NonReader] = []

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        for speaker in self._speakers:
            await speaker.close()
        for silent in self._silent:
            silent.close()

    async def open(self, dialect: type[Speaker]) -> Speaker:
        """A connection of ``dialect``, not registered yet."""
        speaker = await dialect.open(self.target)
        self._speakers.append(speaker)
        return speaker

    async def enter(self, dialect: type[Speaker], name: str) -> Speaker:
        """A user of ``dialect`` registered as ``name`` (a refusal fails the test)."""
        speaker = await self.open(dialect)
        registered = await speaker.register(name)
        assert isinstance(registered, Registered), f"{dialect.dialect} {name}: {registered}"
        return speaker

    async def silent(self, dialect: type[Speaker], name: str) -> NonReader:
        """A user of ``dialect`` who registers as ``name`` and then never reads a byte: its
        receive buffer is as small as the kernel allows, so its output piles up at the server.
        """
        loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1)  # clamped to the minimum
        sock.setblocking(False)
        silent = NonReader(sock)
        self._silent.append(silent)
        await loop.sock_connect(sock, address_of(self.target))
        await loop.sock_sendall(sock, dialect.opening(name))
        return silent
