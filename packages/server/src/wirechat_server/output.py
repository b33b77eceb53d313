"""A connection's output: what it is owed, written at once, and the bounds on what it may owe.

Part of :class:`~.connection.Connection` (a base class holding no state of its own: every slot is
the connection's, so splitting the file costs no memory per connection). The rules, after
websockets and uvicorn: the server never waits for a client. Bytes are written to the transport
immediately; a client whose unsent output passes ``max_output_buffer``, or that reads none of
it for ``write_timeout``, is cut off as too slow. What the kernel still holds for it counts (up
to ``socket_send_buffer``), and so do history answers, which are cut to the room left. Past
``soft_output_buffer`` the server stops reading the client's own requests until it catches up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final, Protocol

from .transports.kernel import kernel_output

if TYPE_CHECKING:
    from .config import ServerConfig
    from .transports.base import Transport


class _Loop(Protocol):
    def call_soon(self, callback: Any, *args: Any) -> Any: ...


class _Host(Protocol):
    """What output needs of the connection's host (:class:`.connection.Host`): its loop."""

    @property
    def loop(self) -> _Loop: ...


# Why reading from a connection is paused (bits of Connection._paused; an int, not a set, because
# a server holds one per connection and an empty set alone costs 216 bytes).
PAUSED_OUTPUT: Final = 1  # its unsent output passed soft_output_buffer
PAUSED_RATE: Final = 2  # its requests wait for the rate limit
PAUSED_TURN: Final = 4  # it used up this loop turn's share of requests
PAUSED_HISTORY: Final = 8  # a history page is being read for it
PAUSED_SHUTDOWN: Final = 16  # the server is stopping


class Output:
    """The output half of a connection."""

    # Set up by the connection's __init__ (one object, one set of slots: see the module).
    __slots__ = (
        "_allowance",  # bytes a history answer overshot the bound by: not held against it
        "_output_seen",  # how far the client had read at the last sweep (bytes it acknowledged)
        "_progress_at",  # when its output last made progress
        "_withheld",  # output held while a history page is read
        "_withheld_bytes",
        "_wrote",  # whether anything was written since the last sweep
    )
    _allowance: int
    _output_seen: int
    _progress_at: float
    _withheld: list[bytes] | None
    _withheld_bytes: int
    _wrote: bool

    if TYPE_CHECKING:  # what the connection provides
        host: _Host
        config: ServerConfig
        transport: Transport | None

        def _pause(self, why: int) -> None: ...
        def _resume(self, why: int) -> None: ...
        def kick_too_slow(self, detail: str) -> None: ...

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
                self.host.loop.call_soon(
                    self.kick_too_slow, "output held for a history read grew too large"
                )
            return
        if self._allowance:
            # What is still buffered of the answer is at most what is buffered at all.
            self._allowance = min(self._allowance, transport.get_write_buffer_size())
        transport.write(data)
        self._wrote = True
        if transport.get_write_buffer_size() > self.config.max_output_buffer + self._allowance:
            self.host.loop.call_soon(self.kick_too_slow, "unsent output passed max_output_buffer")

    def hold(self) -> None:
        """Keep what is delivered from now on, and read no more requests, until :meth:`release`."""
        if self._withheld is None:
            self._withheld = []
            self._pause(PAUSED_HISTORY)

    def release(self, first: bytes) -> None:
        """Write ``first`` (a history answer), then what was held meanwhile; read on.

        A history answer is cut to fit :meth:`output_room`, but always carries at least one
        message a page, so it may pass ``max_output_buffer`` by that much: the overshoot is
        not held against the client, and the bound applies again once it has drained. A
        client that asks page after page without reading would pass the bound a message at a
        time: past one frame's worth over it, it is too slow, like any other.
        """
        withheld, self._withheld = self._withheld, None
        self._withheld_bytes = 0
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.write(b"".join([first, *(withheld or ())]))
            self._wrote = True
            over = -self.output_room()
            if over > self.config.max_frame_bytes:
                self.host.loop.call_soon(
                    self.kick_too_slow, "history answers passed max_output_buffer"
                )
            self._allowance = max(0, over)
        self._resume(PAUSED_HISTORY)

    def output_room(self) -> int:
        """Bytes that may still be written before the unsent output (ours, held, and the
        kernel's) passes its bound."""
        transport = self.transport
        if transport is None:
            return 0
        kernel = kernel_output(transport)
        unsent = transport.get_write_buffer_size() + (kernel[0] if kernel is not None else 0)
        return self.config.max_output_buffer - unsent - self._withheld_bytes

    def _stuck(self, transport: Any, now: float) -> bool:
        """Whether the client has read nothing of its pending output for ``write_timeout``.

        What the kernel holds counts: a client that reads nothing may leave the transport's
        buffer empty for a long time while the kernel's is full (up to
        ``socket_send_buffer``), so progress is what the client acknowledged, not what left
        our buffer."""
        if not self._wrote and self._output_seen < 0:
            self._progress_at = now  # nothing was pending, nothing written since
            return False
        self._wrote = False
        buffered = transport.get_write_buffer_size()
        kernel = kernel_output(transport)
        if kernel is None:  # the platform cannot tell: our buffer draining is progress
            pending, progress = buffered, -buffered
        else:
            pending, progress = buffered + kernel[0], kernel[1]
        if pending == 0:
            self._output_seen = -1
            self._progress_at = now
            return False
        if progress != self._output_seen:
            self._output_seen = progress
            self._progress_at = now
            return False
        return now - self._progress_at > self.config.write_timeout
