"""Which dialect a connection speaks, decided from its first bytes by one ordered table.

Each row of :data:`OPENERS` recognises how one protocol's clients open a connection. The first
row that matches wins; a row that cannot tell yet (the bytes so far are the start of one of its
words) makes detection wait for more, up to ``plain_name_wait``. Anything no row claims is plain
text, the fallback, so ``nc``, telnet and the lab client (which sends its name with no newline)
work as they always have. Rows for protocols the server does not speak yet refuse the client
with one line it can show, in its own protocol, instead of taking its opening as a name.
Plain-text names contain no spaces and no control characters, so no opener below is a name
anyone could have chosen. The order is documented in docs/protocol.md ("Dialects").
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from ..config import ServerConfig
from .base import Dialect
from .native import NativeDialect
from .plain import PlainDialect


class Verdict(enum.Enum):
    MATCH = "match"
    NO = "no"
    MORE = "more"  # cannot tell yet: wait for more bytes


@dataclass(frozen=True, slots=True)
class Opener:
    """A row of the table: how one protocol's clients open, and what the server does then."""

    #: The protocol, for the log ("native", "tls", "irc", "http").
    name: str
    #: Looks at the first bytes (at least one).
    matches: Callable[[bytes], Verdict]
    #: The dialect that serves it, or ``None`` if this server does not speak it (yet).
    dialect: Callable[[ServerConfig], Dialect] | None = None
    #: For a protocol not served: the bytes that tell its client so, before the server closes.
    refusal: bytes = b""


def _first_byte(value: int) -> Callable[[bytes], Verdict]:
    def matches(data: bytes) -> Verdict:
        return Verdict.MATCH if data[0] == value else Verdict.NO

    return matches


def _first_word(words: frozenset[bytes], *, case_sensitive: bool) -> Callable[[bytes], Verdict]:
    """The first word is one of ``words`` and is followed by a space, as a command with
    parameters is (``NICK alice``, ``GET / HTTP/1.1``); a bare word is a plain-text name."""
    longest = max(map(len, words))

    def matches(data: bytes) -> Verdict:
        head = data[: longest + 1]
        if not case_sensitive:
            head = head.upper()
        word, space, _ = head.partition(b" ")
        if space:
            return Verdict.MATCH if word in words else Verdict.NO
        if len(head) <= longest and b"\n" not in head and any(w.startswith(head) for w in words):
            return Verdict.MORE
        return Verdict.NO

    return matches


#: The commands an IRC client may open with (modern.ircdocs.horse, "Connection Registration";
#: many clients send ``CAP LS 302`` first). IRC commands are case-insensitive.
IRC_OPENING_COMMANDS: Final = frozenset({b"CAP", b"NICK", b"PASS", b"USER"})
#: HTTP/1.x request methods (RFC 9110 and RFC 5789), and ``PRI``, the start of HTTP/2's preface.
HTTP_METHODS: Final = frozenset(
    {b"GET", b"HEAD", b"POST", b"PUT", b"DELETE", b"CONNECT", b"OPTIONS", b"TRACE", b"PATCH"}
    | {b"PRI"}
)

_NOT_SERVED = (
    "this is a wirechat chat server; it does not speak {protocol} on this port. "
    "Connect with the wirechat client, or with nc or telnet as a plain-text user."
)
_HTTP_BODY = _NOT_SERVED.format(protocol="HTTP").encode() + b"\n"

OPENERS: Final[tuple[Opener, ...]] = (
    Opener("native", _first_byte(ord("{")), NativeDialect),
    # A TLS record of type handshake (a ClientHello). Its client cannot read a line of text, so
    # it gets a TLS alert record instead: fatal (2) handshake_failure (40), in TLS 1.0 framing,
    # which every TLS version accepts before version negotiation.
    Opener("tls", _first_byte(0x16), refusal=bytes([0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x28])),
    Opener(
        "irc",
        _first_word(IRC_OPENING_COMMANDS, case_sensitive=False),
        refusal=b"ERROR :" + _NOT_SERVED.format(protocol="IRC").encode() + b"\r\n",
    ),
    Opener(
        "http",
        _first_word(HTTP_METHODS, case_sensitive=True),
        refusal=(
            b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n"
            b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(_HTTP_BODY), _HTTP_BODY)
        ),
    ),
)

#: What a connection that matches no opener speaks.
FALLBACK: Final = Opener("plain", lambda data: Verdict.MATCH, PlainDialect)


def detect(data: bytes, *, final: bool = False) -> Opener | None:
    """The opener of a connection whose first bytes are ``data`` (not empty), or ``None`` to
    wait for more. ``final``: no more are coming in time, so decide now."""
    for opener in OPENERS:
        verdict = opener.matches(data)
        if verdict is Verdict.MATCH:
            return opener
        if verdict is Verdict.MORE and not final:
            return None
    return FALLBACK


#: The names of the dialects this server speaks (what a listener may be restricted to).
SERVED_DIALECTS: Final = frozenset(
    opener.name for opener in (*OPENERS, FALLBACK) if opener.dialect is not None
)
