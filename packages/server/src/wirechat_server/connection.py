"""One client connection, whatever carries it and whatever dialect it speaks.

A :class:`Connection` sits between a transport (:mod:`.transports`, which moves bytes) and a
dialect (:mod:`.dialects`, which translates them). It owns everything with a clock in it: choosing
the dialect from the first bytes (:mod:`.dialects.detect`), the request pump and its rate limit,
refusals, liveness, and the one teardown path every ending goes through; its output side, with
the bounds on what a client may owe, is :mod:`.output`. Each request a dialect yields is carried
out by :func:`.dispatch.dispatch`.
"""

from __future__ import annotations

import functools
import logging
from typing import TYPE_CHECKING, Any, Final, Protocol

from wirechat_common import AnyMessage, Bye, Error, ErrorCode, LeaveReason, ProtocolError

from .addresses import Origins
from .admission import Refusal
from .config import ServerConfig
from .dialects.base import Dialect
from .dialects.detect import detect
from .dialects.plain import PLAIN
from .dispatch import dispatch
from .output import (
    PAUSED_OUTPUT,
    PAUSED_RATE,
    PAUSED_SHUTDOWN,
    PAUSED_TURN,
    Output,
)
from .ratelimit import TokenBucket
from .transports.base import Transport

if TYPE_CHECKING:
    from .bus import WireFormat
    from .core import ChatCore
    from .fanout import Group, Special
    from .identity import User

log: Final = logging.getLogger("wirechat.server")

#: Requests handled for one connection before its replies are written. Replies are written only
#: when fan-out flushes (``Fanout.flush``), so the output bounds can act only then; with no cap,
#: a client pipelining thousands of cheap requests (uvloop hands over up to 32 reads per turn)
#: had them all answered, megabytes past ``max_output_buffer`` and seconds of loop stall,
#: before the server noticed that it reads none of the replies.
REQUESTS_PER_TURN: Final = 64


# Why a connection ends, by the error code that ended it.
_REASON_FOR_CODE: Final = {
    ErrorCode.TOO_SLOW: LeaveReason.TOO_SLOW,
    ErrorCode.TIMEOUT: LeaveReason.TIMEOUT,
    ErrorCode.FLOOD: LeaveReason.FLOOD,
}


class Timer(Protocol):
    def cancel(self) -> None: ...


class Clock(Protocol):
    """What a connection needs of the event loop: its clock and its timers."""

    def time(self) -> float: ...

    def call_later(self, delay: float, callback: Any, *args: Any) -> Timer: ...

    def call_soon(self, callback: Any, *args: Any) -> Any: ...


class Host(Protocol):
    """What a connection needs of the listener that accepted it, and of its server."""

    @property
    def config(self) -> ServerConfig: ...
    @property
    def origins(self) -> Origins:
        """How addresses are grouped for per-address limits."""
        ...

    @property
    def core(self) -> ChatCore: ...
    @property
    def loop(self) -> Clock: ...
    @property
    def served(self) -> frozenset[str] | None:
        """The dialects this listener serves (``None``: every one)."""
        ...

    def budget_of(self, user_key: str) -> TokenBucket:
        """The request rate budget the connections of user ``user_key`` share."""
        ...

    def admit(self, connection: Connection, address: str) -> Refusal | None:
        """Take ``connection`` into the registry, or say why not."""
        ...

    def forget(self, connection: Connection, address: str) -> None:
        """``connection`` is gone for good."""
        ...


class Connection(Output):
    """A client connection from accept to close. A transport's user (asyncio's ``Protocol``
    callbacks, see :class:`~.transports.base.TransportUser`), fan-out's member, the core's
    client. Its output side (delivery and the bounds on it) is :class:`~.output.Output`."""

    __slots__ = (
        "_held",
        "_limit",
        "_paused",
        "_ping_sent_at",
        "_resume_handle",
        "_stall_handle",
        "address",
        "closed",
        "config",
        "dialect",
        "errors_in_row",
        "fanout_state",
        "host",
        "last_received",
        "name",
        "port",
        "registered",
        "rooms",
        "transport",
        "user",
        "wire",
    )

    host: Host  # (the output side knows less of it)

    def __init__(self, host: Host) -> None:
        """A connection accepted by ``host``, the listener that took it."""
        self.host = host
        self.config = host.config  # a slot, not a property: the hot path of fan-out reads it
        self.transport: Transport | None = None
        #: What the client speaks: ``None`` until its first bytes tell (see :meth:`_detect`).
        self.dialect: Dialect | None = None
        #: How events are rendered for it. Until the dialect is known, errors go out as plain
        #: lines: readable by a person and, being no JSON, unmistakable for a native client.
        self.wire: WireFormat = PLAIN
        self.name = ""
        self.address = "?"
        self.port = 0
        self.fanout_state: Special | None = None
        self.rooms: list[Group] = []
        self.user: User | None = None
        self._withheld: list[bytes] | None = None
        self._withheld_bytes = 0
        self._allowance = 0
        self.registered = False
        self.closed = False
        self.errors_in_row = 0
        now = host.loop.time()
        self.last_received = now
        self._ping_sent_at: float | None = None
        config = host.config
        self._limit = TokenBucket(config.msg_burst, config.msg_rate, config.flood_backlog, now)
        # A request pulled but waiting for the rate limit; until the dialect is known, the first
        # bytes, too few to tell it (one slot for both: a server holds thousands of these).
        self._held: object = None
        self._resume_handle: Timer | None = None
        self._stall_handle: Timer | None = None  # waiting for more of an incomplete input
        self._paused = 0  # why reading is paused: a mask of the _PAUSED_* bits
        # How far the client had read at the last sweep (the kernel's count of bytes it
        # acknowledged), or -1 if nothing was pending then; and whether anything was written
        # since, so that idle connections cost the sweep no system call.
        self._output_seen = -1
        self._wrote = False
        # When output last drained; before registration, when the connection opened (one slot
        # for both: the register deadline and the write deadline never apply at once).
        self._progress_at = now

    @property
    def core(self) -> ChatCore:
        """The chat this connection is part of (the host's: not a slot of each connection)."""
        return self.host.core

    @property
    def origin(self) -> str:
        """Where the client comes from, as per-address limits count it (:mod:`.addresses`):
        worked out when asked (at registration), not kept in a slot."""
        return self.host.origins.of(self.address)

    @property
    def peer(self) -> str:
        """``address:port`` for the log. Built each time it is logged rather than kept: a
        string per connection adds up over thousands of idle ones."""
        if not self.port:  # no peer name (a socket that was gone before it was accepted)
            return self.address
        if ":" in self.address:
            return f"[{self.address}]:{self.port}"
        return f"{self.address}:{self.port}"

    # -- the transport's callbacks ----------------------------------------------------------

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        peername = transport.get_extra_info("peername")
        if isinstance(peername, tuple) and len(peername) >= 2:
            self.address = str(peername[0])
            self.port = int(peername[1])
        transport.set_write_buffer_limits(high=self.config.soft_output_buffer)
        refusal = self.host.admit(self, self.address)
        if refusal is not None:
            # Refused before the client has said which protocol it speaks: a plain line is
            # readable by a person and, being no JSON, unmistakable for a native client. (The
            # host logged it, folding repeats: see refusals.py.)
            transport.write(f"error: {refusal.detail} ({refusal.code})\n".encode())
            self.closed = True
            transport.close()
            return
        log.info("connect %s", self.peer)

    def data_received(self, data: bytes) -> None:
        if self.closed:
            return
        self.last_received = self.host.loop.time()
        self._ping_sent_at = None
        dialect = self.dialect
        if dialect is None:
            self._detect(data)
            return
        dialect.receive(data)
        if self._stall_handle is None:
            self._await_stall(dialect)
        self.pump()

    def eof_received(self) -> bool:
        return False  # close our side too; connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed:
            self._end(LeaveReason.DROPPED, None)
        self._cancel_timers()
        self.host.forget(self, self.address)

    def pause_writing(self) -> None:
        self._pause(PAUSED_OUTPUT)

    def resume_writing(self) -> None:
        self._resume(PAUSED_OUTPUT)

    # -- the dialect ------------------------------------------------------------------------

    def _detect(self, data: bytes, *, final: bool = False) -> None:
        """Choose the dialect from the first bytes (waiting for more if they cannot tell yet),
        or refuse a protocol this server does not speak."""
        held = self._held
        first = (held if isinstance(held, bytes) else b"") + data
        opener = detect(first, final=final) if first else None
        if opener is None:
            self._held = first
            if self._stall_handle is None and not final:
                self._stall_handle = self.host.loop.call_later(
                    self.config.plain_name_wait, self._stalled
                )
            return
        self._held = None
        served = self.host.served
        if opener.dialect is None:
            self._refuse_protocol(opener.name, opener.refusal)
            return
        if served is not None and opener.name not in served:
            only = " and ".join(sorted(served))
            line = (
                f"error: this port serves {only} only, not {opener.name} (unsupported_protocol)\n"
            )
            self._refuse_protocol(opener.name, line.encode())
            return
        dialect = self.dialect = opener.dialect(self.config)
        self.wire = dialect.wire
        dialect.receive(first)
        if final:
            dialect.stalled()  # detection already waited for the rest
        elif self._stall_handle is None:
            self._await_stall(dialect)
        self.pump()

    def _refuse_protocol(self, protocol: str, refusal: bytes) -> None:
        """Close a connection that opened with a protocol this listener does not serve."""
        log.info("refuse %s reason=unsupported_protocol: %s", self.peer, protocol)
        self.closed = True
        self._cancel_timers()
        if self.transport is not None:
            self.transport.write(refusal)
            self.transport.close()

    def _await_stall(self, dialect: Dialect) -> None:
        wait = dialect.incomplete_wait()
        if wait is not None:
            self._stall_handle = self.host.loop.call_later(wait, self._stalled)

    def _stalled(self) -> None:
        """No more bytes came in time to complete what the client started sending."""
        self._stall_handle = None  # fired; the next chunk may start another wait
        if self.closed:
            return
        if self.dialect is None:
            self._detect(b"", final=True)
            return
        self.dialect.stalled()
        self.pump()

    # -- requests ---------------------------------------------------------------------------

    def pump(self) -> None:
        """Handle buffered requests, in order, as far as the rate limit allows."""
        dialect = self.dialect
        if dialect is None:
            return
        handled = 0
        while not self.closed and not self._paused:
            if handled == REQUESTS_PER_TURN:
                # Stop reading until these replies are written and the output bounds have had
                # their say.
                self._pause(PAUSED_TURN)
                self.core.bus.after_flush(functools.partial(self._resume, PAUSED_TURN))
                return
            handled += 1
            try:
                raw = self._held
                self._held = None
                if raw is None:
                    raw = dialect.next_request()
                    if raw is None:
                        return
                if not self._limit.take(self.host.loop.time()):
                    self._throttle(raw)
                    return
                request = dialect.translate(raw)
                if request is not None:
                    dispatch(self, request)
                self.errors_in_row = 0
            except ProtocolError as error:
                if not self.registered and not dialect.retries_hello and not error.fatal:
                    # It cannot send another hello: say why, then close.
                    error = ProtocolError(error.code, error.detail, fatal=True)
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

    def _throttle(self, raw: object) -> None:
        assert self.dialect is not None
        config = self.config
        queued = 1 + self.dialect.pending_requests()
        if self._limit.too_far_behind(queued):
            raise ProtocolError(
                ErrorCode.FLOOD,
                f"{queued} requests queued, more than {config.flood_backlog:g} s "
                f"at {config.msg_rate:g} per second",
                fatal=True,
            )
        self._held = raw
        self._pause(PAUSED_RATE)
        self._resume_handle = self.host.loop.call_later(
            self._limit.wait(), self._resume, PAUSED_RATE
        )

    def _pause(self, why: int) -> None:
        if not self._paused and self.transport is not None and not self.closed:
            self.transport.pause_reading()
        self._paused |= why

    def _resume(self, why: int) -> None:
        if why == PAUSED_RATE:
            self._resume_handle = None
        self._paused &= ~why
        if not self._paused and not self.closed and self.transport is not None:
            self.transport.resume_reading()
            self.pump()

    # -- output (the rest is in output.py) ---------------------------------------------

    def render_reply(self, event: AnyMessage) -> bytes:
        """``event`` as this client alone is sent it (see :meth:`.fanout.Member.render_reply`):
        both dialects render replies as they render broadcasts."""
        return self.wire.render(event)

    def send(self, event: AnyMessage) -> None:
        """Send ``event`` to this client alone, in order with what the chat owes it."""
        if self.registered:
            self.core.bus.to_member(self, event)
        elif self.transport is not None and not self.closed:
            self.transport.write(self.render_reply(event))

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
        dialect = self.dialect
        assert dialect is not None
        self.core.register(
            self,
            name,
            session=session,
            rooms=rooms,
            dm_after=dm_after,
            recent=dialect.recent_on_welcome,
        )
        self.registered = True
        # From now on the user's connections share one rate budget: sixteen connections of
        # one name must not say sixteen times as much as one.
        assert self.user is not None
        self._limit = self.host.budget_of(self.user.key)
        self._progress_at = self.host.loop.time()  # output progress is watched from now on
        dialect.registered()
        if self._stall_handle is not None:
            self._stall_handle.cancel()
            self._stall_handle = None
        log.info("register %s name=%s kind=%s", self.peer, name, dialect.kind)

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
            transport.write(self.render_reply(farewell))
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
        if self._stall_handle is not None:
            self._stall_handle.cancel()
            self._stall_handle = None

    def stop_reading(self) -> None:
        """The server is stopping: take no more requests from this client."""
        self._pause(PAUSED_SHUTDOWN)

    def shutdown(self) -> None:
        """The server is stopping: say so and close."""
        self.close(LeaveReason.SHUTDOWN, farewell=Bye(reason=LeaveReason.SHUTDOWN))

    def check_timers(self, now: float) -> None:
        """Called by the server's sweeper: registration, liveness and write deadlines."""
        if self.closed:
            return
        config = self.config
        if not self.registered:
            # Until registration _progress_at is when the connection opened (see register).
            if now - self._progress_at > config.register_timeout:
                self._refuse(
                    ProtocolError(
                        ErrorCode.REGISTER_TIMEOUT,
                        f"no name given within {config.register_timeout:g} s",
                        fatal=True,
                    )
                )
            return
        transport = self.transport
        if transport is not None and self._stuck(transport, now):
            self.kick_too_slow(f"output did not drain for {config.write_timeout:g} s")
            return
        dialect = self.dialect
        if dialect is None:
            return
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
            probe = dialect.probe(now)
            if probe is not None:  # else it cannot answer; TCP keepalive watches it
                self._ping_sent_at = now
                self.send(probe)
