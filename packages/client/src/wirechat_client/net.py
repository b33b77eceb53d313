"""The client's side of the wire: one chat session over TCP that outlives lost connections.

:class:`ChatConnection` connects, says ``hello``, waits for ``welcome``, then reads frames with
the ``wirechat_common`` codec, answers pings, and notices a dead link by pinging a silent
server. When the link drops after a successful registration it reconnects by itself with
exponential backoff and jitter, and registers again. Everything that happens reaches the caller
as batches of events from :meth:`ChatConnection.updates`, one batch per socket read, so a burst
of 1,000 messages costs the UI one update, not 1,000.

This module imports no Textual: the app runs :meth:`~ChatConnection.updates` in a worker on its
own asyncio loop, and tests or bots can drive it without a UI.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Final

from wirechat_common import (
    MAX_SERVER_FRAME_BYTES,
    Ack,
    Bye,
    Decoder,
    Error,
    ErrorCode,
    Hello,
    LeaveReason,
    Ping,
    Pong,
    ProtocolError,
    Say,
    ServerMessage,
    Welcome,
    Who,
    encode,
)

from .address import Address
from .events import Connecting, Disconnected, LinkState, NetEvent, Registered

#: Bytes asked of the socket per read: a burst of several hundred chat lines in one batch.
READ_CHUNK: Final = 64 * 1024

#: Lines typed while offline that are kept to be sent after reconnecting. It matches the
#: server's default burst: past it the server delays requests, and past its backlog it cuts the
#: client off for flooding, so a longer queue would get us kicked right after reconnecting.
MAX_OUTBOX: Final = 10

#: Refusals that end the session even after a registration: retrying cannot help. Any failure
#: of a first attempt is final too (the user is there to fix it), but once registered a
#: ``name_taken`` is retried: it is usually our own previous connection, which the server has
#: not yet noticed is gone.
_FINAL_CODES: Final = frozenset({ErrorCode.INVALID_NAME, ErrorCode.UNSUPPORTED_VERSION})

_LEAVE_WORDS: Final[dict[str, str]] = {
    LeaveReason.SHUTDOWN: "the server is shutting down",
    LeaveReason.QUIT: "you left",
    LeaveReason.TIMEOUT: "the server timed us out",
    LeaveReason.TOO_SLOW: "we were too slow to keep up",
    LeaveReason.FLOOD: "the server cut us off for flooding",
    LeaveReason.KICKED: "the server kicked us",
    LeaveReason.DROPPED: "the connection dropped",
}


@dataclass(frozen=True, slots=True)
class Backoff:
    """Delays between reconnection attempts: exponential, capped, with jitter.

    Attempt ``n`` waits ``min(maximum, initial * 2**n)`` shortened by up to ``jitter`` of itself
    at random, so that a crowd of clients dropped by one server restart does not come back in
    lock-step.
    """

    initial: float = 0.5
    maximum: float = 30.0
    jitter: float = 0.5

    def delay(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        base = min(self.maximum, self.initial * 2.0 ** min(attempt, 32))
        return base * (1.0 - self.jitter * rand())


class _LinkLostError(Exception):
    """The current TCP connection is over; ``reason`` says why, ``code`` if the server said."""

    def __init__(self, reason: str, code: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


def _farewell(reason: str | None) -> str:
    if not reason:
        return "the server said goodbye"
    return _LEAVE_WORDS.get(reason, f"the server said goodbye ({reason})")


def describe_os_error(error: OSError, address: Address) -> str:
    """A sentence a user can act on, for a failure to connect."""
    if isinstance(error, ConnectionRefusedError):
        return f"nothing is listening on {address} (is the server running?)"
    if isinstance(error, TimeoutError):
        return f"no answer from {address}"
    if error.strerror:
        return f"cannot reach {address}: {error.strerror}"
    return f"cannot reach {address}: {error}"


class ChatConnection:
    """One user's session with a wirechat server, reconnecting as needed.

    Iterate :meth:`updates` (once) to run it. :meth:`say` and :meth:`who` send at once when
    online; lines said while offline wait in a short outbox and go out after registering again.
    A first attempt that fails (unreachable, name taken) is final: the user is there to fix it.
    """

    def __init__(
        self,
        address: Address,
        name: str,
        *,
        backoff: Backoff | None = None,
        connect_timeout: float = 10.0,
        keepalive: float = 30.0,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self._address = address
        self._name = name
        self.backoff = backoff or Backoff()
        self.connect_timeout = connect_timeout
        self.close_timeout = 1.0
        self.keepalive = keepalive  # silence before we ping; as long again for the answer
        self._rand = rand
        self.state = LinkState.CONNECTING
        self._writer: asyncio.StreamWriter | None = None
        self._outbox: deque[Say] = deque()
        self._unacked: dict[str, Say] = {}
        self._ids = itertools.count(1)
        self._closing = False
        self._ping_out = False
        self._decoder = Decoder(MAX_SERVER_FRAME_BYTES, types=ServerMessage)
        self._wake = asyncio.Event()
        self._finished = asyncio.Event()

    @property
    def address(self) -> Address:
        return self._address

    @property
    def name(self) -> str:
        return self._name

    def is_closing(self) -> bool:
        """Whether :meth:`close` was called (a method, as it changes behind the caller's back)."""
        return self._closing

    # -- requests from the user ------------------------------------------------------------

    def say(self, text: str, *, action: bool = False) -> str | None:
        """Send ``text`` (checked by the caller); return its ``client_id``, or ``None`` when the
        line cannot even be queued (offline with a full outbox, or closed)."""
        if self._closing:
            return None
        say = Say(text=text, action=action, client_id=f"c{next(self._ids)}")
        if self.state is LinkState.ONLINE:
            self._write_say(say)
        elif len(self._outbox) < MAX_OUTBOX:
            self._outbox.append(say)
        else:
            return None
        return say.client_id

    def who(self) -> bool:
        """Ask for the user list; false when offline."""
        return self.state is LinkState.ONLINE and self._write(Who())

    async def close(self) -> None:
        """Say ``bye`` and end :meth:`updates`; waits up to ``close_timeout`` for the server's
        goodbye, so quitting never hangs on a dead server."""
        if self._closing:
            return
        self._closing = True
        self._wake.set()
        if self.state is LinkState.ONLINE and self._write(Bye()):
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.close_timeout):
                    await self._finished.wait()
        if self._writer is not None:
            self._writer.close()

    # -- the session -------------------------------------------------------------------------

    async def updates(self) -> AsyncIterator[list[NetEvent]]:
        """Run the session, yielding what happens in batches; ends once closed for good."""
        attempt = 0
        registered_once = False
        try:
            while not self.is_closing():
                self.state = LinkState.CONNECTING
                yield [Connecting(self._address, attempt)]
                try:
                    reader, welcome, early = await self._register()
                except _LinkLostError as lost:
                    if not registered_once or lost.code in _FINAL_CODES:
                        self.state = LinkState.CLOSED
                        yield [Disconnected(lost.reason, None, lost.code)]
                        return
                    reason, code = lost.reason, lost.code
                else:
                    self.state = LinkState.ONLINE
                    yield [Registered(welcome, registered_once), *early]
                    registered_once = True
                    attempt = 0
                    self._flush_outbox()
                    try:
                        while True:
                            events = await self._receive(reader)
                            if events:
                                yield events
                    except _LinkLostError as lost:
                        reason, code = lost.reason, lost.code
                self._drop_writer()
                if self.is_closing():  # close() was called while we were connected or connecting
                    break
                delay = self.backoff.delay(attempt, self._rand)
                attempt += 1
                self.state = LinkState.OFFLINE
                unconfirmed = tuple(self._unacked)
                self._unacked.clear()
                yield [Disconnected(reason, delay, code, unconfirmed)]
                await self._sleep(delay)
            self.state = LinkState.CLOSED
            yield [Disconnected("you left", None)]
        finally:
            self.state = LinkState.CLOSED
            self._drop_writer()
            self._finished.set()

    async def _register(self) -> tuple[asyncio.StreamReader, Welcome, list[NetEvent]]:
        """Connect and say hello; return the reader, the welcome, and anything after it."""
        address = self._address
        try:
            async with asyncio.timeout(self.connect_timeout):
                reader, writer = await asyncio.open_connection(address.host, address.port)
        except OSError as error:  # TimeoutError is an OSError too
            raise _LinkLostError(describe_os_error(error, address)) from None
        self._writer = writer
        self._decoder = Decoder(MAX_SERVER_FRAME_BYTES, types=ServerMessage)
        self._ping_out = False
        self._write(Hello(name=self._name))
        try:
            async with asyncio.timeout(self.connect_timeout):
                while True:
                    messages = await self._read(reader)
                    for index, message in enumerate(messages):
                        if isinstance(message, Welcome):
                            self._name = message.name
                            return reader, message, self._handle(messages[index + 1 :])
                        if isinstance(message, Error):
                            raise _LinkLostError(message.detail or message.code, message.code)
                        if isinstance(message, Bye):
                            raise _LinkLostError(_farewell(message.reason))
        except TimeoutError:
            raise _LinkLostError(
                f"{address} did not answer hello (is it a wirechat server?)"
            ) from None

    async def _receive(self, reader: asyncio.StreamReader) -> list[NetEvent]:
        """One read's worth of events. A silent server is pinged, then given up on: without
        this a dead peer behind a NAT or a pulled cable would look connected for hours."""
        try:
            async with asyncio.timeout(self.keepalive):
                messages = await self._read(reader)
        except TimeoutError:
            if self._ping_out:
                raise _LinkLostError(
                    f"no answer from the server for {2 * self.keepalive:g} s"
                ) from None
            self._ping_out = True
            self._write(Ping(token="keepalive"))
            return []
        self._ping_out = False  # any frame at all proves the server is alive
        return self._handle(messages)

    async def _read(self, reader: asyncio.StreamReader) -> list[ServerMessage]:
        """Read once and decode; raises :class:`_LinkLostError` at EOF or a fatal protocol error."""
        try:
            data = await reader.read(READ_CHUNK)
        except OSError as error:
            raise _LinkLostError(f"the connection broke: {error.strerror or error}") from None
        if not data:
            raise _LinkLostError("the server closed the connection")
        try:
            return self._decoder.feed(data)  # type: ignore[return-value]
        except ProtocolError as error:
            if error.fatal:
                raise _LinkLostError(
                    f"the server sent something unreadable ({error.code})"
                ) from None
            # A bad frame is skipped; what followed it in the same read is still good.
            good: list[ServerMessage] = error.messages  # type: ignore[assignment]
            return good + self._decoder_rest()

    def _decoder_rest(self) -> list[ServerMessage]:
        try:
            return self._decoder.feed(b"")  # type: ignore[return-value]
        except ProtocolError as error:
            return error.messages  # type: ignore[return-value]

    def _handle(self, messages: list[ServerMessage]) -> list[NetEvent]:
        """Answer pings, settle acks; return the events the user should see."""
        events: list[NetEvent] = []
        for message in messages:
            match message:
                case Ping(token=token):
                    self._write(Pong(token=token))
                case Pong() | Welcome():
                    pass
                case Ack(client_id=client_id):
                    if client_id is not None:
                        self._unacked.pop(client_id, None)
                    events.append(message)
                case Bye(reason=reason):
                    raise _LinkLostError(_farewell(reason))
                case Error(fatal=True, code=code, detail=detail):
                    raise _LinkLostError(f"{detail or code}", code)
                case Error(client_id=client_id) if client_id is not None:
                    # The server refused that line: it is settled, not "unconfirmed".
                    self._unacked.pop(client_id, None)
                    events.append(message)
                case _:
                    events.append(message)
        return events

    # -- output ------------------------------------------------------------------------------

    def _write(self, message: Hello | Say | Who | Ping | Pong | Bye) -> bool:
        writer = self._writer
        if writer is None or writer.is_closing():
            return False
        writer.write(encode(message))
        return True

    def _write_say(self, say: Say) -> None:
        if self._write(say):
            assert say.client_id is not None
            self._unacked[say.client_id] = say

    def _flush_outbox(self) -> None:
        while self._outbox:
            self._write_say(self._outbox.popleft())

    def _drop_writer(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    async def _sleep(self, delay: float) -> None:
        """Wait ``delay`` seconds, or less if :meth:`close` is called meanwhile."""
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(delay):
                await self._wake.wait()
