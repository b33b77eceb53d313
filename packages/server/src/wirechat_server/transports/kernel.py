"""What the kernel still holds of a connection's output, and how far the peer has read it.

The transport's buffer is only what the kernel would not take yet: a client that reads nothing
can leave it empty while the kernel holds its whole send buffer. Decisions about a slow client
(the write deadline, the room left for a history page) ask the kernel. Each question costs
system calls, so it is asked now and then, never for every write.
"""

from __future__ import annotations

import fcntl
import socket
import struct
import sys
import termios
from typing import Any, Final, Protocol


class SocketTransport(Protocol):
    """What the questions need of a transport: its socket."""

    def get_extra_info(self, name: str, default: Any = None) -> Any: ...


def kernel_output(transport: SocketTransport) -> tuple[int, int] | None:
    """(bytes written by us and not yet acknowledged by the peer, ``SIOCOUTQ``; bytes it has
    acknowledged so far, from ``TCP_INFO``), or ``None`` where the platform cannot tell (then
    only the transport's own buffer counts). Two system calls."""
    sock = transport.get_extra_info("socket")
    if sock is None or _SIOCOUTQ is None:
        return None
    fd = sock.fileno()
    if fd < 0:  # closed under us (the peer left while a history page was read)
        return None
    try:
        unsent: int = struct.unpack("i", fcntl.ioctl(fd, _SIOCOUTQ, b"\0\0\0\0"))[0]
        info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, _TCP_INFO_LEN)
    except OSError:
        return None
    if len(info) < _TCP_INFO_LEN:  # a kernel older than 4.1 has no bytes_acked
        return None
    acked: int = struct.unpack_from("Q", info, _BYTES_ACKED_AT)[0]
    return unsent, acked


#: Linux's SIOCOUTQ (the same number as TIOCOUTQ); other platforms have no such request.
_SIOCOUTQ: Final = getattr(termios, "TIOCOUTQ", None) if sys.platform == "linux" else None
#: Where ``tcpi_bytes_acked`` lies in Linux's ``struct tcp_info`` (include/uapi/linux/tcp.h:
#: 8 bytes of flags, 24 32-bit fields, then pacing_rate and max_pacing_rate, 64-bit each).
_BYTES_ACKED_AT: Final = 120
_TCP_INFO_LEN: Final = _BYTES_ACKED_AT + 8
