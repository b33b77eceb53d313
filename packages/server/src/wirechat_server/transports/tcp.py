"""TCP: listening sockets whose accepted connections are served by asyncio's own transport.

Nothing sits between asyncio's TCP transport and a connection (see :mod:`.base`); what is TCP's
own is how a listener is opened: its backlog and the socket options every accepted connection
inherits.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable
from typing import Final

from .base import TransportUser

log: Final = logging.getLogger("wirechat.server")

#: Pending connections the kernel queues before accept: enough for a crowd reconnecting at once
#: after a restart (the kernel caps it at net.core.somaxconn).
LISTEN_BACKLOG: Final = 1024


def tune_listener(
    sock: socket.socket, *, idle: int, interval: int, count: int, send_buffer: int | None = None
) -> None:
    """Set TCP keepalive and the send buffer on the listening socket, for every connection it
    accepts.

    ``send_buffer`` caps what the kernel holds unsent for one connection (Linux doubles the
    value for its bookkeeping). Left to itself the kernel grows a loopback or LAN connection's
    buffer to megabytes, out of sight of the server's own output bound: 400 clients that read
    nothing pinned 655 MiB of kernel memory.

    Plain-text clients cannot answer pings, so the kernel probes for dead peers. Accepted
    sockets inherit the options (Linux and the BSDs), which costs nothing per connection;
    setting them on each accepted socket took four system calls and a socket object per
    connection that uvloop then keeps (72 bytes each). ``TCP_NODELAY`` needs nothing here:
    asyncio and uvloop set it on every connection they accept.
    """
    try:
        if send_buffer is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, send_buffer)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        if hasattr(socket, "TCP_KEEPIDLE"):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, idle)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, interval)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, count)
    except OSError as exc:  # pragma: no cover - a platform without one of these options
        log.warning("cannot set TCP options on the listening socket: %s", exc)


async def listen_tcp(
    loop: asyncio.AbstractEventLoop,
    new_connection: Callable[[], TransportUser],
    host: str,
    port: int,
    *,
    keepalive: tuple[int, int, int],
    send_buffer: int | None = None,
) -> asyncio.Server:
    """Listen on ``host``:``port``; each accepted connection is served by ``new_connection()``.

    ``keepalive`` is (idle, interval, count) and ``send_buffer`` the kernel's send buffer,
    see :func:`tune_listener`. Raises ``OSError`` if the address cannot be bound.
    """
    server = await loop.create_server(
        new_connection,  # type: ignore[arg-type]  # asyncio wants a Protocol; ours is one by shape
        host,
        port,
        backlog=LISTEN_BACKLOG,
        reuse_address=True,
        # Not before the options are set: a connection takes the listener's options when its
        # handshake completes, and keeps them for life.
        start_serving=False,
    )
    idle, interval, count = keepalive
    for sock in server.sockets:
        tune_listener(sock, idle=idle, interval=interval, count=count, send_buffer=send_buffer)
    await server.start_serving()
    return server
