"""How the idle clients speak to each kind of server: register and answer pings.

The fan-out scenarios speak through the C generator, which knows the same three dialects
(``gen/fanout.c``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True)
class Dialect:
    """What an idle client sends and waits for, for one protocol."""

    name: str

    def register(self, nick: str) -> bytes:
        raise NotImplementedError

    def ready_marker(self) -> bytes:
        """Bytes whose arrival means the client is registered."""
        raise NotImplementedError

    def pong_for(self, data: bytes) -> bytes:
        """What to answer to server pings found in ``data`` (empty if none)."""
        return b""


class Native(Dialect):
    def register(self, nick: str) -> bytes:
        return json.dumps({"type": "hello", "name": nick}).encode() + b"\n"

    def ready_marker(self) -> bytes:
        return b'"welcome"'

    def pong_for(self, data: bytes) -> bytes:
        return b'{"type":"pong"}\n' if b'"ping"' in data else b""


class Plain(Dialect):
    def register(self, nick: str) -> bytes:
        return nick.encode() + b"\n"

    def ready_marker(self) -> bytes:
        return b"Welcome"


class Irc(Dialect):
    """Registered, in no channel: a wirechat user is in the conversation by registering, and
    IRC's closest equivalent without fan-out is a bare login."""

    def register(self, nick: str) -> bytes:
        return f"NICK {nick}\r\nUSER {nick} 0 * :{nick}\r\n".encode()

    def ready_marker(self) -> bytes:
        return b" 001 "  # RPL_WELCOME

    def pong_for(self, data: bytes) -> bytes:
        if not data.startswith(b"PING") and b"\nPING" not in data:
            return b""
        start = data.find(b"PING")
        end = data.find(b"\n", start)
        token = data[start + 4 : end if end >= 0 else len(data)].strip()
        return b"PONG " + token + b"\r\n"


DIALECTS: Final[dict[str, Dialect]] = {
    "native": Native("native"),
    "plain": Plain("plain"),
    "irc": Irc("irc"),
}
