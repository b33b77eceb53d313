"""One TCP connection: the asyncio Protocol between a socket and the chat core.

A :class:`Connection` owns everything with a clock or a socket in it: choosing the adapter from
the first byte (``{`` means native JSON, anything else plain text), the rate limit, the output
bound, liveness, and the one teardown path every ending goes through. The adapters
(:mod:`.native`, :mod:`.plaintext`) only parse requests and call the core.

Flow control follows the websockets and uvicorn rule: the server never waits for a client.
Broadcast bytes are written to the transport immediately; a client whose unsent output passes
``max_output_buffer``, or does not drain for ``write_timeout``, is cut off as too slow. Past
``soft_output_buffer`` the server stops reading that client's own requests until it catches up,
so a client cannot make the server queue replies it does not read.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from typing import TYPE_CHECKING, Any, Final, Protocol, cast

from wirechat_common import AnyMessage, Bye, Error, ErrorCode, LeaveReason, Ping, ProtocolError

from .native import NATIVE, NativeSession
from .plaintext import PLAIN, PlainSession
from .ratelimit import TokenBucket

if TYPE_CHECKING:
    from .chat import ChatCore
    from .fanout import Room, Special, WireFormat
    from .server import ChatServer
    from .sessions import User

log: Final = logging.getLogger("wirechat.server")

_NATIVE_FIRST_BYTE: Final = b"{"[0]

#: Requests handled for one connection before its replies are written. Replies are written only
#: when fan-out flushes (``Fanout.flush``), so the output bounds can act only then; with no cap,
#: a client pipelining thousands of cheap requests (uvloop hands over up to 32 reads per turn)
#: had them all answered, megabytes past ``max_output_buffer`` and seconds of loop stall,
#: before the server noticed that it reads none of the replies.
REQUESTS_PER_TURN: Final = 64

# Why reading from a connection is paused (bits of Connection._paused; an int, not a set, because
# a server holds one per connection and an empty set alone costs 216 bytes).
_PAUSED_OUTPUT: Final = 1  # its unsent output passed soft_output_buffer
_PAUSED_RATE: Final = 2  # its requests wait for the rate limit
_PAUSED_TURN: Final = 4  # it used up this loop turn's share of requests
_PAUSED_HISTORY: Final = 8  # a history page is being read for it
_PAUSED_SHUTDOWN: Final = 16  # the server is stopping

# Why a connection ends, by the error code that ended it.
_REASON_FOR_CODE: Final = {
    ErrorCode.TOO_SLOW: LeaveReason.TOO_SLOW,
    ErrorCode.TIMEOUT: LeaveReason.TIMEOUT,
    ErrorCode.FLOOD: LeaveReason.FLOOD,
}


class Session(Protocol):
    """What a connection needs of an adapter (native or plain text)."""

    @property
    def wire(self) -> WireFormat: ...
    @property
    def kind(self) -> str: ...

    def receive(self, data: bytes) -> None: ...
    def next_request(self) -> Any: ...
    def pending_requests(self) -> int: ...
    def handle(self, request: Any) -> None: ...
    def cancel_timers(self) -> None: ...


class Connection(asyncio.Protocol):
    """A client connection, native or plain text, from accept to close."""

    __slots__ = (
        "_allowance",
        "_held",
        "_limit",
        "_output_seen",
        "_paused",
        "_ping_sent_at",
        "_progress_at",
        "_resume_handle",
        "_withheld",
        "_withheld_bytes",
        "address",
        "closed",
        "config",
        "core",
        "errors_in_row",
        "fanout_state",
        "last_received",
        "loop",
        "name",
        "opened_at",
        "port",
        "registered",
        "rooms",
        "server",
        "session",
        "transport",
        "user",
        "wire",
    )

    def __init__(self, server: ChatServer) -> None:
        self.server = server
        self.config = server.config
        self.core: ChatCore = server.core
        self.loop = server.loop
        self.transport: asyncio.Transport | None = None
        self.session: Session | None = None
        self.wire: WireFormat = PLAIN
        self.name = ""
        self.address = "?"
        self.port = 0
        self.fanout_state: Special | None = None
        self.rooms: list[Room] = []
        self.user: User | None = None
        self._withheld: list[bytes] | None = None  # output held while a history page is read
        self._withheld_bytes = 0
        self._allowance = 0  # bytes of a history answer still unsent: not held against it
        self.registered = False
        self.closed = False
        self.errors_in_row = 0
        now = self.loop.time()
        self.opened_at = now
        self.last_received = now
        self._ping_sent_at: float | None = None
        config = self.config
        self._limit = TokenBucket(config.msg_burst, config.msg_rate, config.flood_backlog, now)
        self._held: Any = None  # a request pulled but waiting for the rate limit
        self._resume_handle: asyncio.TimerHandle | None = None
        self._paused = 0  # why reading is paused: a mask of the _PAUSED_* bits
        self._output_seen = 0
        self._progress_at = now

    @property
    def peer(self) -> str:
        """``address:port`` for the log. Built each time it is logged rather than kept: a
        string per connection adds up over thousands of idle ones."""
        if not self.port:  # no peer name (a socket that was gone before it was accepted)
            return self.address
        if ":" in self.address:
            return f"[{self.address}]:{self.port}"
        return f"{self.address}:{self.port}"

    # -- asyncio callbacks ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        transport = cast("asyncio.Transport", transport)
        self.transport = transport
        peername = transport.get_extra_info("peername")
        if isinstance(peername, tuple) and len(peername) >= 2:
            self.address = str(peername[0])
            self.port = int(peername[1])
        transport.set_write_buffer_limits(high=self.config.soft_output_buffer)
        refusal = self.server.admit(self, self.address)
        if refusal is not None:
            # Refused before the client has said which protocol it speaks: a plain line is
            # readable by a person and, being no JSON, unmistakable for a native client.
            log.warning("refuse %s reason=%s", self.peer, refusal.code)
            transport.write(f"error: {refusal.detail} ({refusal.code})\n".encode())
            self.closed = True
            transport.close()
            return
        log.info("connect %s", self.peer)

    def data_received(self, data: bytes) -> None:
        if self.closed:
            return
        self.last_received = self.loop.time()
        self._ping_sent_at = None
        session = self.session
        if session is None:
            session = self.session = self._choose_session(data)
            self.wire = session.wire
        session.receive(data)
        self.pump()

    def _choose_session(self, first_data: bytes) -> Session:
        if first_data[0] == _NATIVE_FIRST_BYTE:
            return NativeSession(self)
        return PlainSession(self)

    def eof_received(self) -> bool:
        return False  # close our side too; connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed:
            self._end(LeaveReason.DROPPED, None)
        self._cancel_timers()
        self.server.forget(self, self.address)

    def pause_writing(self) -> None:
        self._pause(_PAUSED_OUTPUT)

    def resume_writing(self) -> None:
        self._resume(_PAUSED_OUTPUT)

    # -- requests ---------------------------------------------------------------------------

    def pump(self) -> None:
        """Handle buffered requests, in order, as far as the rate limit allows."""
        session = self.session
        if session is None:
            return
        handled = 0
        while not self.closed and not self._paused:
            if handled == REQUESTS_PER_TURN:
                # Stop reading until these replies are written and the output bounds have had
                # their say.
                self._pause(_PAUSED_TURN)
                self.core.fanout.after_flush(functools.partial(self._resume, _PAUSED_TURN))
                return
            handled += 1
            try:
                request = self._held
                self._held = None
                if request is None:
                    request = session.next_request()
                    if request is None:
                        return
                if not self._limit.take(self.loop.time()):
                    self._throttle(request)
                    return
                session.handle(request)
                self.errors_in_row = 0
            except ProtocolError as error:
                self._refuse(error)  # then carry on with what followed the bad request
            except Exception:
                log.exception("internal error on %s name=%s", self.peer, self.name or "-")
                self.close(
                    LeaveReason.KICKED,
                    farewell=Error(
                        code=ErrorCode.INTERNAL_ERROR,
                        detail="the server failed to handle your request",
                        fatal=True,
                    ),
                )

    def _refuse(self, error: ProtocolError) -> None:
        """Tell the client what it did wrong; close if that was fatal or one error too many."""
        if self.closed:
            return
        if error.fatal:
            reason = _REASON_FOR_CODE.get(error.code, LeaveReason.KICKED)
            log.info(
                "refuse %s name=%s reason=%s: %s",
                self.peer,
                self.name or "-",
                error.code,
                error.detail,
            )
            self.close(reason, farewell=Error(code=error.code, detail=error.detail, fatal=True))
            return
        self.send(
            Error(code=error.code, detail=error.detail, client_id=error.client_id, room=error.room)
        )
        self.errors_in_row += 1
        if self.errors_in_row >= self.config.max_consecutive_errors:
            self._refuse(
                ProtocolError(
                    ErrorCode.PROTOCOL_VIOLATION,
                    f"{self.errors_in_row} refused requests in a row",
                    fatal=True,
                )
            )

    # -- rate limit: delay first, cut only past the backlog -------------------------------

    def _throttle(self, request: Any) -> None:
        assert self.session is not None
        config = self.config
        queued = 1 + self.session.pending_requests()
        if self._limit.too_far_behind(queued):
            raise ProtocolError(
                ErrorCode.FLOOD,
                f"{queued} requests queued, more than {config.flood_backlog:g} s "
                f"at {config.msg_rate:g} per second",
                fatal=True,
            )
        self._held = request
        self._pause(_PAUSED_RATE)
        self._resume_handle = self.loop.call_later(self._limit.wait(), self._resume, _PAUSED_RATE)

    def _pause(self, why: int) -> None:
        if not self._paused and self.transport is not None and not self.closed:
            self.transport.pause_reading()
        self._paused |= why

    def _resume(self, why: int) -> None:
        if why == _PAUSED_RATE:
            self._resume_handle = None
        self._paused &= ~why
        if not self._paused and not self.closed and self.transport is not None:
            self.transport.resume_reading()
            self.pump()

    # -- output -----------------------------------------------------------------------------

    @property
    def writable(self) -> bool:
        """Whether output written now could still reach the client."""
        return self.transport is not None and not self.transport.is_closing()

    def deliver(self, data: bytes) -> None:
        """Write ``data`` now; schedule a cut if the client has fallen too far behind."""
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        withheld = self._withheld
        if withheld is not None:
            withheld.append(data)
            self._withheld_bytes += len(data)
            if self._withheld_bytes > self.config.max_output_buffer:
                self.loop.call_soon(
                    self.kick_too_slow, "output held for a history read grew too large"
                )
            return
        if self._allowance:
            # What is still buffered of the answer is at most what is buffered at all.
            self._allowance = min(self._allowance, transport.get_write_buffer_size())
        transport.write(data)
        if transport.get_write_buffer_size() > self.config.max_output_buffer + self._allowance:
            self.loop.call_soon(self.kick_too_slow, "unsent output passed max_output_buffer")

    def hold(self) -> None:
        """Keep what is delivered from now on, and read no more requests, until :meth:`release`."""
        if self._withheld is None:
            self._withheld = []
            self._pause(_PAUSED_HISTORY)

    def release(self, first: bytes) -> None:
        """Write ``first`` (a history answer), then what was held meanwhile; read on.

        A history answer may be larger than ``max_output_buffer`` (a page of 200 long
        messages): it was asked for, so it is not held against the client; the buffer limits
        apply again from the next delivery, once the page has drained below them.
        """
        withheld, self._withheld = self._withheld, None
        self._withheld_bytes = 0
        transport = self.transport
        if transport is not None and not transport.is_closing():
            self._allowance = transport.get_write_buffer_size() + len(first)
            transport.write(b"".join([first, *(withheld or ())]))
        self._resume(_PAUSED_HISTORY)

    def send(self, event: AnyMessage) -> None:
        """Send ``event`` to this client alone, in order with what the chat owes it."""
        if self.registered:
            self.core.fanout.to_member(self, event)
        elif self.transport is not None and not self.closed:
            self.transport.write(self.wire.render(event))

    def kick_too_slow(self, detail: str) -> None:
        if not self.closed:
            log.info("refuse %s name=%s reason=too_slow: %s", self.peer, self.name or "-", detail)
            self._end(LeaveReason.TOO_SLOW, None, detail)
            if self.transport is not None:
                self.transport.abort()  # its buffer is full: waiting to flush would never end

    # -- lifecycle --------------------------------------------------------------------------

    def register(
        self,
        name: str,
        *,
        session: str | None = None,
        rooms: dict[str, int] | None = None,
        dm_after: int | None = None,
    ) -> None:
        """Join the chat as ``name``; raises ``ProtocolError`` (``name_taken``) if in use."""
        assert self.session is not None
        self.core.register(
            self,
            name,
            session=session,
            rooms=rooms,
            dm_after=dm_after,
            plain=self.session.kind == "plain",
        )
        self.registered = True
        assert self.session is not None
        self.session.cancel_timers()
        log.info("register %s name=%s kind=%s", self.peer, name, self.session.kind)

    def close(self, reason: LeaveReason, *, farewell: AnyMessage | None = None) -> None:
        """End the connection: the others hear why, the client gets ``farewell``, then EOF."""
        if self.closed:
            return
        self._end(reason, farewell)
        if self.transport is not None:
            self.transport.close()  # after the buffered output is flushed

    def _end(self, reason: LeaveReason, farewell: AnyMessage | None, detail: str = "") -> None:
        """The one teardown path: leave the chat, send the last words, stop every timer."""
        self.closed = True
        self._cancel_timers()
        if self.registered:
            self.registered = False
            self.core.leave(self, reason, announce=reason is not LeaveReason.SHUTDOWN)
        transport = self.transport
        if farewell is not None and transport is not None and not transport.is_closing():
            transport.write(self.wire.render(farewell))
        why: str = reason
        if isinstance(farewell, Error):
            why, detail = farewell.code, farewell.detail
        log.info(
            "disconnect %s name=%s reason=%s%s",
            self.peer,
            self.name or "-",
            why,
            f": {detail}" if detail else "",
        )

    def _cancel_timers(self) -> None:
        if self._resume_handle is not None:
            self._resume_handle.cancel()
            self._resume_handle = None
        if self.session is not None:
            self.session.cancel_timers()

    def stop_reading(self) -> None:
        """The server is stopping: take no more requests from this client."""
        self._pause(_PAUSED_SHUTDOWN)

    def shutdown(self) -> None:
        """The server is stopping: say so and close."""
        self.close(LeaveReason.SHUTDOWN, farewell=Bye(reason=LeaveReason.SHUTDOWN))

    def check_timers(self, now: float) -> None:
        """Called by the server's sweeper: registration, liveness and write deadlines."""
        if self.closed:
            return
        config = self.config
        if not self.registered:
            if now - self.opened_at > config.register_timeout:
                self._refuse(
                    ProtocolError(
                        ErrorCode.REGISTER_TIMEOUT,
                        f"no name given within {config.register_timeout:g} s",
                        fatal=True,
                    )
                )
            return
        transport = self.transport
        if transport is not None:
            pending = transport.get_write_buffer_size()
            if pending == 0 or pending < self._output_seen:
                self._progress_at = now
            elif now - self._progress_at > config.write_timeout:
                self.kick_too_slow(f"output did not drain for {config.write_timeout:g} s")
                return
            self._output_seen = pending
        if self.wire is not NATIVE:
            return  # plain-text clients cannot answer pings; TCP keepalive watches them
        if self._paused:
            # We stopped reading it (rate limit, or its own unread output, which write_timeout
            # and max_output_buffer police), so its pong may be waiting unread: not silence.
            self.last_received = now
            self._ping_sent_at = None
            return
        if self._ping_sent_at is not None:
            if now - self._ping_sent_at > config.idle_timeout:
                self._refuse(
                    ProtocolError(
                        ErrorCode.TIMEOUT,
                        f"no answer to ping within {config.idle_timeout:g} s",
                        fatal=True,
                    )
                )
        elif now - self.last_received > config.idle_ping_interval:
            self._ping_sent_at = now
            self.send(Ping(token=str(int(now))))
