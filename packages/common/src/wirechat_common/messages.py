"""Every message of the wire protocol, as frozen msgspec Structs in one tagged union.

Each Struct encodes as a JSON object whose ``"type"`` field is its tag (``Say`` is
``{"type": "say", ...}``). Decoding validates field types; the content rules (names, text) are
applied by :class:`wirechat_common.codec.Decoder`. Unknown fields are ignored, so a newer peer can
add optional fields without breaking an older one; an unknown ``type`` is an error.

Fields the receiver never needs are omitted from the wire when they hold their default
(``omit_defaults``), which keeps the frames of the hottest messages short.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, TypeAlias

import msgspec

from .limits import MAX_TOKEN_LENGTH, PROTOCOL_VERSION

#: Integers on the wire stay within what every JSON implementation reads exactly (JavaScript's
#: numbers are doubles): 0 to 2**53 - 1.
Count: TypeAlias = Annotated[int, msgspec.Meta(ge=0, le=2**53 - 1)]

#: Opaque tokens chosen by a peer (``client_id``, ping tokens): short printable ASCII, so they can
#: be logged, echoed and compared without any escaping concerns.
Token: TypeAlias = Annotated[
    str, msgspec.Meta(min_length=1, max_length=MAX_TOKEN_LENGTH, pattern="^[\\x21-\\x7e]+$")
]


class LeaveReason(StrEnum):
    """Why a user left, carried by ``left`` and by the server's ``bye``.

    On the wire the reason is a plain string, so that a newer server can add reasons without
    older clients refusing the whole frame; clients show an unknown reason as it is.
    """

    QUIT = "quit"  # said bye
    DROPPED = "dropped"  # the connection broke
    TIMEOUT = "timeout"  # stopped answering pings
    TOO_SLOW = "too_slow"  # did not read its output fast enough
    FLOOD = "flood"  # sent commands faster than allowed for too long
    KICKED = "kicked"  # removed for breaking the protocol
    SHUTDOWN = "shutdown"  # the server stopped


class _Frame(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, tag_field="type"):
    """Base of all messages: frozen, keyword-only, tagged by ``type``."""


# -- sent by clients ---------------------------------------------------------------------------


class Hello(_Frame, frozen=True, tag="hello", omit_defaults=False):
    """Client -> server, first frame: register under ``name``, speaking protocol ``version``.

    ``version`` is always sent (``omit_defaults=False``): its default is the sender's own
    :data:`PROTOCOL_VERSION`, so omitting it would make every receiver read its own version.
    """

    name: str
    version: Count = PROTOCOL_VERSION


class Say(_Frame, frozen=True, tag="say"):
    """Client -> server: send ``text`` to everyone. ``action`` marks a ``/me`` line.

    ``client_id`` is an opaque token of the client's choosing, echoed in the ``ack``, so a client
    can match acknowledgements to what it sent.
    """

    text: str
    action: bool = False
    client_id: Token | None = None


class Who(_Frame, frozen=True, tag="who"):
    """Client -> server: ask for the list of users; answered with ``users``."""


# -- sent by servers ---------------------------------------------------------------------------


class Welcome(_Frame, frozen=True, tag="welcome"):
    """Server -> client: registration succeeded.

    ``name`` is the name as registered, ``users`` everyone present (``name`` included), sorted
    case-insensitively. ``max_text_bytes`` and ``max_frame_bytes`` are this server's limits;
    ``msg_burst`` and ``msg_rate`` its rate limit: requests a client may send at once, then per
    second (a ``msg_rate`` of 0 means no limit; absent: not announced). A client that queued
    lines while offline can size what it sends after reconnecting by them.
    """

    name: str
    users: list[str]
    version: Count  # required, unlike in hello: a server always says what it speaks
    server: str = ""
    max_text_bytes: Count = 0
    max_frame_bytes: Count = 0
    msg_burst: Count = 0
    # None, not 0.0, as the default: omit_defaults compares floats by identity.
    msg_rate: Annotated[float, msgspec.Meta(ge=0)] | None = None


class Message(_Frame, frozen=True, tag="message"):
    """Server -> client: ``sender`` said ``text``.

    ``id`` is assigned by the server, unique and strictly increasing; ``ts`` is the server's UTC
    time of receipt in milliseconds since the Unix epoch.
    """

    id: Count
    ts: Count
    sender: str
    text: str
    action: bool = False


class Ack(_Frame, frozen=True, tag="ack"):
    """Server -> client: your ``say`` was accepted and relayed as message ``id`` at ``ts``."""

    id: Count
    ts: Count
    client_id: Token | None = None


class Joined(_Frame, frozen=True, tag="joined"):
    """Server -> client: ``name`` joined."""

    name: str
    ts: Count


class Left(_Frame, frozen=True, tag="left"):
    """Server -> client: ``name`` left, for ``reason``."""

    name: str
    reason: str
    ts: Count


class Users(_Frame, frozen=True, tag="users"):
    """Server -> client: everyone present, sorted case-insensitively (the answer to ``who``)."""

    users: list[str]


class Error(_Frame, frozen=True, tag="error"):
    """Server -> client: the last request was refused, or the connection is about to close.

    ``code`` is stable and machine-readable (see :class:`wirechat_common.errors.ErrorCode`),
    ``detail`` is for humans. ``fatal`` is true when the server closes the connection next.
    ``client_id`` is that of the ``say`` refused, when it carried one, so a client knows which
    of its lines did not go out.
    """

    code: str
    detail: str = ""
    fatal: bool = False
    client_id: Token | None = None


# -- sent by both ------------------------------------------------------------------------------


class Ping(_Frame, frozen=True, tag="ping"):
    """Either way: are you there? Answer with a ``pong`` carrying the same ``token``."""

    token: Token | None = None


class Pong(_Frame, frozen=True, tag="pong"):
    """Either way: the answer to ``ping``."""

    token: Token | None = None


class Bye(_Frame, frozen=True, tag="bye"):
    """Either way: the sender is closing the connection.

    From a client: leave the chat (the server answers ``bye`` with reason ``quit`` and closes).
    From a server: the connection ends now, for ``reason``.
    """

    reason: str | None = None


ClientMessage: TypeAlias = Hello | Say | Who | Ping | Pong | Bye
ServerMessage: TypeAlias = (
    Welcome | Message | Ack | Joined | Left | Users | Error | Ping | Pong | Bye
)
AnyMessage: TypeAlias = (
    Hello | Say | Who | Welcome | Message | Ack | Joined | Left | Users | Error | Ping | Pong | Bye
)

#: Every message type by its ``type`` tag.
MESSAGE_TYPES: dict[str, type[AnyMessage]] = {
    cls.__struct_config__.tag: cls  # type: ignore[misc]
    for cls in (Hello, Say, Who, Welcome, Message, Ack, Joined, Left, Users, Error, Ping, Pong, Bye)
}
