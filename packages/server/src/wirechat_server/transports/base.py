"""The two interfaces between a transport and the connection it carries.

They are the parts of asyncio's ``Transport`` and ``Protocol`` that the server relies on, named as
asyncio names them: asyncio's and uvloop's TCP transports implement :class:`Transport` as they
are, and :class:`~wirechat_server.connection.Connection` implements :class:`TransportUser`, so
TCP needs no adapter object (one write per recipient per turn goes straight to the socket's
transport, and an idle connection costs no extra object). A WebSocket transport will implement
:class:`Transport` over the TCP one and call a connection's :class:`TransportUser` methods with
the payloads of its frames.
"""

from __future__ import annotations

from typing import Any, Protocol


class Transport(Protocol):
    """What a connection does with the transport under it."""

    def write(self, data: bytes) -> None:
        """Queue ``data`` for sending; never blocks."""
        ...

    def get_write_buffer_size(self) -> int:
        """Bytes written but not yet handed to the network."""
        ...

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        """Call the user's ``pause_writing`` past ``high`` buffered bytes, ``resume_writing``
        once back under ``low``."""
        ...

    def pause_reading(self) -> None:
        """Stop calling ``data_received`` until :meth:`resume_reading`."""
        ...

    def resume_reading(self) -> None: ...

    def is_closing(self) -> bool:
        """Whether the transport is closed or closing: nothing written now arrives."""
        ...

    def close(self) -> None:
        """Close once the buffered output has been sent."""
        ...

    def abort(self) -> None:
        """Close at once, dropping the buffered output."""
        ...

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        """``"peername"`` gives the peer's address, as a socket gives it."""
        ...


class TransportUser(Protocol):
    """What a transport tells the connection it carries (asyncio's ``Protocol`` callbacks)."""

    def connection_made(self, transport: Any) -> None: ...

    def data_received(self, data: bytes) -> None: ...

    def eof_received(self) -> bool | None: ...

    def connection_lost(self, exc: Exception | None) -> None: ...

    def pause_writing(self) -> None: ...

    def resume_writing(self) -> None: ...
