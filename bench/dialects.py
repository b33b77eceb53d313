"""How the load generator speaks to each kind of server: register, join, say, answer pings.

Every dialect carries the same payload in each chat line, ``S<sender>|<seq> T<ns>`` plus padding,
so the generator can count deliveries the same way whatever the protocol: one ``|`` per delivered
message, whatever framing surrounds it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Final

#: One byte that occurs exactly once in every delivered chat line and in no other line the
#: servers send during a measurement, so counting it in each received chunk counts deliveries
#: (a single byte cannot straddle two reads).
MARK: Final = b"|"
CHANNEL: Final = "#bench"


def payload(sender: int, seq: int, sent_ns: int, size: int) -> str:
    """The text of one chat line: who sent it, its number, when, padded to ``size`` characters."""
    head = f"S{sender}|{seq} T{sent_ns} "
    return head + "x" * max(0, size - len(head))


@dataclass(frozen=True)
class Dialect:
    """What the generator sends and waits for, for one protocol."""

    name: str

    def register(self, nick: str) -> bytes:
        raise NotImplementedError

    def ready_marker(self) -> bytes:
        """Bytes whose arrival means the client is registered (and in the room)."""
        raise NotImplementedError

    def say(self, text: str) -> bytes:
        raise NotImplementedError

    def pong_for(self, data: bytes) -> bytes:
        """What to answer to server pings found in ``data`` (empty if none)."""
        return b""


class Native(Dialect):
    def register(self, nick: str) -> bytes:
        return json.dumps({"type": "hello", "name": nick}).encode() + b"\n"

    def ready_marker(self) -> bytes:
        return b'"welcome"'

    def say(self, text: str) -> bytes:
        return json.dumps({"type": "say", "text": text}, separators=(",", ":")).encode() + b"\n"

    def pong_for(self, data: bytes) -> bytes:
        return b'{"type":"pong"}\n' if b'"ping"' in data else b""


class Plain(Dialect):
    def register(self, nick: str) -> bytes:
        return nick.encode() + b"\n"

    def ready_marker(self) -> bytes:
        return b"Welcome"

    def say(self, text: str) -> bytes:
        return text.encode() + b"\n"


class Irc(Dialect):
    def register(self, nick: str) -> bytes:
        return f"NICK {nick}\r\nUSER {nick} 0 * :{nick}\r\nJOIN {CHANNEL}\r\n".encode()

    def ready_marker(self) -> bytes:
        return b" 366 "  # RPL_ENDOFNAMES: the JOIN is complete

    def say(self, text: str) -> bytes:
        return f"PRIVMSG {CHANNEL} :{text}\r\n".encode()

    def pong_for(self, data: bytes) -> bytes:
        if not data.startswith(b"PING") and b"\nPING" not in data:
            return b""
        start = data.find(b"PING")
        end = data.find(b"\n", start)
        token = data[start + 4 : end if end >= 0 else len(data)].strip()
        return b"PONG " + token + b"\r\n"


class IrcIdle(Irc):
    """IRC clients for the idle scenario: registered, in no channel (a wirechat user is in the
    conversation by registering; IRC's closest equivalent without fan-out is a bare login)."""

    def register(self, nick: str) -> bytes:
        return f"NICK {nick}\r\nUSER {nick} 0 * :{nick}\r\n".encode()

    def ready_marker(self) -> bytes:
        return b" 001 "  # RPL_WELCOME


DIALECTS: Final[dict[str, Dialect]] = {
    "native": Native("native"),
    "plain": Plain("plain"),
    "irc": Irc("irc"),
}
