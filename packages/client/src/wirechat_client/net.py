"""The client's side of the wire: one chat session over TCP that outlives lost connections.

:class:`ChatConnection` connects, says ``hello``, waits for ``welcome``, then reads frames with
the ``wirechat_common`` codec, answers pings, and notices a dead link by pinging a silent
server. When the link drops after a successful registration it reconnects by itself with
exponential backoff and jitter and resumes: ``hello`` carries the session token and the
cursors of :mod:`.resume`, the server replays what was missed, and lines not yet acknowledged
(:mod:`.outbox`) are sent again under their first ``client_id``, so nothing is lost or doubled.
Everything that happens reaches the caller as batches of events from
:meth:`ChatConnection.updates`, one batch per socket read, so a burst of 1,000 messages costs
the UI one update, not 1,000.

This module imports no Textual: the app runs :meth:`~ChatConnection.updates` in a worker on its
own asyncio loop, and tests or bots can drive it without a UI.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator, Callable
from typing import Final

from wirechat_common import (
    MAX_SERVER_FRAME_BYTES,
    Ack,
    Bye,
    ClientMessage,
    Decoder,
    Error,
    ErrorCode,
    GetHistory,
    History,
    LeaveReason,
    Left,
    Message,
    Ping,
    Pong,
    ProtocolError,
    RoomInfo,
    Say,
    ServerMessage,
    Welcome,
    encode,
    name_key,
)

from .address import Address
from .events import (
    PAGE_ERRORS,
    Connecting,
    Disconnected,
    HistoryPage,
    LinkState,
    NetEvent,
    Registered,
    Request,
    refused_room,
)
from .link import Backoff, LinkLostError, describe_os_error, farewell
from .outbox import Outbox
from .resume import PageKind, ResumeState

__all__ = ["READ_CHUNK", "Backoff", "ChatConnection", "describe_os_error"]

#: Bytes asked of the socket per read: a burst of several hundred chat lines in one batch.
READ_CHUNK: Final = 64 * 1024

#: Refusals that end the session even after a registration: retrying cannot help. Any failure
#: of a first attempt is final too (the user is there to fix it), but once registered a
#: ``name_taken`` is retried: it is usually our own previous connection, which the server has
#: not yet noticed is gone.
_FINAL_CODES: Final = frozenset({ErrorCode.INVALID_NAME, ErrorCode.UNSUPPORTED_VERSION})


class ChatConnection:
    """One user's session with a wirechat server, reconnecting and resuming as needed.

    Iterate :meth:`updates` (once) to run it. :meth:`say` and :meth:`request` send at once when
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
        self.outbox = Outbox()
        self.resume = ResumeState()
        self._closing = False
        self._ping_out = False
        self._decoder = Decoder(MAX_SERVER_FRAME_BYTES, types=ServerMessage)
        self._wake = asyncio.Event()
        self._retry_at: float | None = None  # when to ask again for pages that failed
        self._retry_attempt = 0
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

    def say(
        self, text: str, *, action: bool = False, room: str | None = None, to: str | None = None
    ) -> str | None:
        """Send ``text`` (checked by the caller) to ``room`` or to the user ``to``; return its
        ``client_id``, or ``None`` when the line cannot even be queued (offline with a full
        outbox, or closed)."""
        if self._closing:
            return None
        say = self.outbox.new(text, action=action, room=room, to=to)
        if self.state is LinkState.ONLINE and self.outbox.waiting():
            self.outbox.follow(say)  # behind the resends still paced out
        elif self.state is LinkState.ONLINE:
            self._write_say(say)
        elif not self.outbox.queue(say):
            return None
        return say.client_id

    def request(self, request: Request) -> bool:
        """Send ``request`` now; false when offline (nothing is queued)."""
        if self.state is not LinkState.ONLINE or not self._write(request):
            return False
        if isinstance(request, GetHistory):
            self.resume.asked(request)
        return True

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
        try:
            while not self.is_closing():
                self.state = LinkState.CONNECTING
                yield [Connecting(self._address, attempt)]
                registered_before = self.resume.registered
                try:
                    reader, welcome, early = await self._register()
                except LinkLostError as lost:
                    if not registered_before or lost.code in _FINAL_CODES:
                        self.state = LinkState.CLOSED
                        yield [Disconnected(lost.reason, None, lost.code, self._unsent())]
                        return
                    reason, code = lost.reason, lost.code
                else:
                    self.state = LinkState.ONLINE
                    yield [Registered(welcome, registered_before), *early]
                    attempt = 0
                    resend = asyncio.create_task(self._resend(welcome))
                    try:
                        while True:
                            events = await self._receive(reader)
                            if events:
                                yield events
                    except LinkLostError as lost:
                        reason, code = lost.reason, lost.code
                    finally:
                        resend.cancel()
                self._drop_writer()
                self.outbox.connection_lost()
                if self.is_closing():  # close() was called while we were connected or connecting
                    break
                delay = self.backoff.delay(attempt, self._rand)
                attempt += 1
                self.state = LinkState.OFFLINE
                yield [Disconnected(reason, delay, code)]
                await self.wait_to_retry(delay)
            self.state = LinkState.CLOSED
            yield [Disconnected("you left", None, None, self._unsent())]
        finally:
            self.state = LinkState.CLOSED
            self._drop_writer()
            self._finished.set()

    async def _resend(self, welcome: Welcome) -> None:
        """Send the lines queued while offline (unacknowledged ones first), paced by the
        server's rate limit: ``msg_burst`` at once, then ``msg_rate`` a second. Sent all at
        once, a full outbox would be delayed by the server, and past its backlog cut off as a
        flood. Lines typed meanwhile queue behind them (:meth:`say`)."""
        burst, rate = welcome.msg_burst, welcome.msg_rate or 0.0
        sent = 0
        while self.outbox.waiting():
            if burst and rate > 0 and sent >= burst:
                await asyncio.sleep(1.0 / rate)
            say = self.outbox.next()
            if say is None:
                return
            self._write_say(say)
            sent += 1

    def _unsent(self) -> tuple[str, ...]:
        self.outbox.connection_lost()
        return self.outbox.pending_ids()

    async def _register(self) -> tuple[asyncio.StreamReader, Welcome, list[NetEvent]]:
        """Connect and say hello; return the reader, the welcome, and anything after it."""
        address = self._address
        try:
            async with asyncio.timeout(self.connect_timeout):
                reader, writer = await asyncio.open_connection(address.host, address.port)
        except OSError as error:  # TimeoutError is an OSError too
            raise LinkLostError(describe_os_error(error, address)) from None
        self._writer = writer
        self._decoder = Decoder(MAX_SERVER_FRAME_BYTES, types=ServerMessage)
        self._ping_out = False
        self._retry_at, self._retry_attempt = None, 0
        self._write(self.resume.hello(self._name))
        try:
            async with asyncio.timeout(self.connect_timeout):
                while True:
                    messages = await self._read(reader)
                    for index, message in enumerate(messages):
                        if isinstance(message, Welcome):
                            self._name = message.name
                            self.resume.welcome(message)
                            return reader, message, self._handle(messages[index + 1 :])
                        if isinstance(message, Error):
                            raise LinkLostError(message.detail or message.code, message.code)
                        if isinstance(message, Bye):
                            raise LinkLostError(farewell(message.reason))
        except TimeoutError:
            raise LinkLostError(
                f"{address} did not answer hello (is it a wirechat server?)"
            ) from None

    async def _receive(self, reader: asyncio.StreamReader) -> list[NetEvent]:
        """One read's worth of events. A silent server is pinged, then given up on: without
        this a dead peer behind a NAT or a pulled cable would look connected for hours."""
        wait = self.keepalive
        retrying = False
        if self._retry_at is not None:
            until_retry = max(0.0, self._retry_at - asyncio.get_running_loop().time())
            retrying = until_retry < wait
            wait = min(wait, until_retry)
        try:
            async with asyncio.timeout(wait):
                messages = await self._read(reader)
        except TimeoutError:
            if retrying:
                self._retry_pages()
                return []
            if self._ping_out:
                raise LinkLostError(
                    f"no answer from the server for {2 * self.keepalive:g} s"
                ) from None
            self._ping_out = True
            self._write(Ping(token="keepalive"))
            return []
        self._ping_out = False  # any frame at all proves the server is alive
        return self._handle(messages)

    async def _read(self, reader: asyncio.StreamReader) -> list[ServerMessage]:
        """Read once and decode; raises :class:`LinkLostError` at EOF or a fatal protocol error."""
        try:
            data = await reader.read(READ_CHUNK)
        except OSError as error:
            raise LinkLostError(f"the connection broke: {error.strerror or error}") from None
        if not data:
            raise LinkLostError("the server closed the connection")
        try:
            return self._decoder.feed(data)  # type: ignore[return-value]
        except ProtocolError as error:
            if error.fatal:
                raise LinkLostError(
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
        """Answer pings, settle acks, keep the cursors; return the events the user should see."""
        events: list[NetEvent] = []
        for message in messages:
            match message:
                case Ping(token=token):
                    self._write(Pong(token=token))
                case Pong() | Welcome():
                    pass
                case Message():
                    self.resume.message(message)
                    events.append(message)
                case Ack(client_id=client_id):
                    said = self.outbox.settle(client_id)
                    if said is not None:
                        self.resume.acked(said, message)
                    events.append(message)
                case History():
                    events.append(self._page(message))
                case RoomInfo():
                    self.resume.room_info(message)
                    events.append(message)
                case Left(name=name, reason=LeaveReason.PART, room=room) if (
                    room is not None and name_key(name) == name_key(self._name)
                ):
                    self.resume.parted(room)
                    events.append(message)
                case Bye(reason=reason):
                    raise LinkLostError(farewell(reason))
                case Error(fatal=True, code=code, detail=detail):
                    raise LinkLostError(f"{detail or code}", code)
                case Error(client_id=client_id) if (room := refused_room(message)) is not None:
                    # We are not in that room: stop resuming it (a refused line is settled).
                    self.resume.refused(room)
                    self.outbox.settle(client_id)
                    events.append(message)
                case Error(client_id=client_id) if client_id is not None:
                    # The server refused that line: it is settled, never to be sent again.
                    self.outbox.settle(client_id)
                    events.append(message)
                case Error(code=code, room=room) if code in PAGE_ERRORS:
                    self.resume.page_failed(room, retry=code == ErrorCode.STORAGE_UNAVAILABLE)
                    if self.resume.wants_retry() and self._retry_at is None:
                        delay = self.backoff.delay(self._retry_attempt, self._rand)
                        self._retry_attempt += 1
                        self._retry_at = asyncio.get_running_loop().time() + delay
                    events.append(message)
                case _:
                    events.append(message)
        return events

    def _retry_pages(self) -> None:
        """Ask again for the pages of what we missed that the server could not read."""
        self._retry_at = None
        for request in self.resume.retries():
            self._write(request)

    def _page(self, page: History) -> HistoryPage:
        kind, follow = self.resume.history(page)
        if kind is PageKind.MISSED:
            self._retry_attempt = 0  # reading works again
        if follow is not None:
            self._write(follow)  # catching up: the next page of what we missed
        return HistoryPage(page.room, page.messages, page.more, kind)

    # -- output ------------------------------------------------------------------------------

    def _write(self, message: ClientMessage) -> bool:
        writer = self._writer
        if writer is None or writer.is_closing():
            return False
        writer.write(encode(message))
        return True

    def _write_say(self, say: Say) -> None:
        # In flight even if the writer is already closing: the loss puts it back in the queue.
        self.outbox.sent(say)
        self._write(say)

    def _drop_writer(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    async def wait_to_retry(self, delay: float) -> None:
        """Wait ``delay`` seconds before reconnecting, or less if :meth:`close` is called
        meanwhile (tests hold a reconnection back by overriding this)."""
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(delay):
                await self._wake.wait()
