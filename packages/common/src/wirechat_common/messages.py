"""Every message of the wire protocol, as frozen msgspec Structs in one tagged union.

Each Struct encodes as a JSON object whose ``"type"`` field is its tag (``Say`` is
``{"type": "say", ...}``). Decoding validates field types; the content rules (names, text) are
applied by :class:`wirechat_common.codec.Decoder`. Unknown fields are ignored, so a newer peer can
add optional fields without breaking an older one; an unknown ``type`` is an error.

Rooms and direct messages. A ``room`` field holds a room name (``#name``); a message without one
belongs to :data:`~wirechat_common.limits.DEFAULT_ROOM` unless it is a direct message, which
carries ``to`` (the recipient's name) instead. History pages and resume cursors name the direct
messages with a peer as ``@peer``, and all of one's direct messages as ``@``.

Fields the receiver never needs are omitted from the wire when they hold their default
(``omit_defaults``), which keeps the frames of the hottest messages short.
"""

from __future__ import annotations

import typing
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
    PART = "part"  # left this room, still connected
    DROPPED = "dropped"  # the connection broke
    TIMEOUT = "timeout"  # stopped answering pings
    TOO_SLOW = "too_slow"  # did not read its output fast enough
    FLOOD = "flood"  # sent commands faster than allowed for too long
    KICKED = "kicked"  # removed for breaking the protocol
    SHUTDOWN = "shutdown"  # the server stopped


class _Frame(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, tag_field="type"):
    """Base of all messages: frozen, keyword-only, tagged by ``type``."""


# -- sent by clients ---------------------------------------------------------------------------


class Hello(_Frame, frozen=True, tag="hello"):
    """Client -> server, first frame: register under ``name``, speaking protocol ``version``.

    ``version`` is always sent (a default factory is never omitted): its default is the
    sender's own :data:`PROTOCOL_VERSION`, so omitting it would make every receiver read its
    own version.

    Resuming after a dropped connection: ``session`` is the token the last ``welcome`` gave; with
    it, the name is taken back even if the old connection still holds it, and one's direct
    messages from before can be read. ``rooms`` maps each room to rejoin to the last message id
    seen in it (0: none); the server joins those rooms instead of the default one and sends
    each one's ``history`` after that id (0: its recent messages, as on ``join``). ``dm_after``
    is the last direct-message id seen: the server sends a ``history`` of room ``@`` with the
    direct messages after it.
    """

    name: str
    version: Count = msgspec.field(default_factory=lambda: PROTOCOL_VERSION)
    session: Token | None = None
    rooms: dict[str, Count] | None = None
    dm_after: Count | None = None


class Say(_Frame, frozen=True, tag="say"):
    """Client -> server: send ``text`` to ``room`` (default ``#lobby``), or to the user ``to``
    as a direct message (never both). ``action`` marks a ``/me`` line.

    ``client_id`` is an opaque token of the client's choosing, echoed in the ``ack``. It also
    makes a resend safe: the same ``client_id`` from the same user within the server's
    idempotency window is stored and relayed once; the resend gets the original's ``ack`` (with
    ``duplicate`` set), whatever its text.
    """

    text: str
    action: bool = False
    client_id: Token | None = None
    room: str | None = None
    to: str | None = None


class Who(_Frame, frozen=True, tag="who"):
    """Client -> server: ask who is in ``room`` (a room one has joined), or, without ``room``,
    who is connected at all; answered with ``users``."""

    room: str | None = None


class Join(_Frame, frozen=True, tag="join"):
    """Client -> server: join ``room``, creating it if nobody is in it.

    Answered with ``room`` (topic and members) and then ``history`` (its recent messages); the
    members get ``joined``. Joining a room one is already in just sends ``room`` and ``history``
    again.
    """

    room: str


class Part(_Frame, frozen=True, tag="part"):
    """Client -> server: leave ``room``. Everyone in it, the sender included, gets ``left``
    with reason ``part``."""

    room: str


class ListRooms(_Frame, frozen=True, tag="rooms"):
    """Client -> server: ask for the rooms that have members; answered with ``room_list``.

    The list comes a page at a time, sorted by name (compared without letter case): ``after``
    starts the page after the room of that name (the last one of the page before), ``limit``
    caps its length; a larger ``limit`` than the server's page size, or none, gets a page of
    that size.
    """

    after: str | None = None
    limit: Count | None = None


class SetTopic(_Frame, frozen=True, tag="set_topic"):
    """Client -> server: set the topic of ``room`` (one has joined) to ``topic`` (text rules;
    empty clears it). Everyone in the room gets ``topic``."""

    room: str
    topic: str


class GetHistory(_Frame, frozen=True, tag="get_history"):
    """Client -> server: a page of ``room``'s stored messages; answered with ``history``.

    ``room`` is a room one has joined, or ``@peer`` for the direct messages with ``peer``, or
    ``@`` for all of one's direct messages. ``before`` pages back (the newest messages with ids
    below it), ``after`` pages forward (the oldest with ids above it); with neither, the most
    recent messages. ``limit`` defaults to the server's ``history_on_join`` and may not exceed
    its ``max_history``.
    """

    room: str
    before: Count | None = None
    after: Count | None = None
    limit: Count | None = None


# -- sent by servers ---------------------------------------------------------------------------


class Welcome(_Frame, frozen=True, tag="welcome"):
    """Server -> client: registration succeeded.

    ``name`` is the name as registered. ``users`` lists the users connected, sorted
    case-insensitively: all of them (``name`` included) up to the server's ``welcome_users``
    (100 by default), else the first that many; ``online`` says how many there are in all (0: not
    announced, then ``users`` is everyone). Each room's members come with its ``room`` frame.
    ``max_text_bytes`` and ``max_frame_bytes`` are this server's limits; ``msg_burst`` and
    ``msg_rate`` its rate limit: requests a client may send at once, then per second (a
    ``msg_rate`` of 0 means no limit; absent: not announced). A client that queued lines while
    offline can size what it sends after reconnecting by them.
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
    #: Send it back in ``hello`` when reconnecting (see :class:`Hello`). Secret: it lets the
    #: holder take over the name and read its direct messages.
    session: Token | None = None
    #: The largest ``limit`` a ``get_history`` may ask for (0: no history on this server).
    max_history: Count = 0
    #: The most rooms one connection may be in.
    max_rooms: Count = 0
    #: How many users are connected, of whom ``users`` lists the first (0: not announced).
    online: Count = 0


class Message(_Frame, frozen=True, tag="message"):
    """Server -> client: ``sender`` said ``text`` in ``room``, or to ``to`` directly.

    ``id`` is assigned by the server, unique across all rooms and strictly increasing; ``ts``
    is the server's UTC time of receipt in milliseconds since the Unix epoch. A message is sent
    only once it is stored, so every id a client sees survives a server crash.
    """

    id: Count
    ts: Count
    sender: str
    text: str
    action: bool = False
    room: str | None = None
    to: str | None = None


class Ack(_Frame, frozen=True, tag="ack"):
    """Server -> client: your ``say`` is stored and relayed as message ``id`` at ``ts``.

    ``duplicate`` is true when it had been received before (same ``client_id``): this is the
    original's ack, and nothing was relayed again.
    """

    id: Count
    ts: Count
    client_id: Token | None = None
    duplicate: bool = False


class Joined(_Frame, frozen=True, tag="joined"):
    """Server -> client: ``name`` joined ``room``."""

    name: str
    ts: Count
    room: str | None = None


class Left(_Frame, frozen=True, tag="left"):
    """Server -> client: ``name`` left ``room`` (``part``) or the chat, for ``reason``."""

    name: str
    reason: str
    ts: Count
    room: str | None = None


class Users(_Frame, frozen=True, tag="users"):
    """Server -> client: the members of ``room``, or without it everyone connected, sorted
    case-insensitively (the answer to ``who``)."""

    users: list[str]
    room: str | None = None


class RoomInfo(_Frame, frozen=True, tag="room"):
    """Server -> client: you are in ``room``; its ``topic`` and its ``users`` (sorted,
    yourself included). Sent on joining, before the room's ``history``."""

    room: str
    users: list[str]
    topic: str = ""


class Topic(_Frame, frozen=True, tag="topic"):
    """Server -> client: ``by`` set the topic of ``room`` to ``topic`` at ``ts``."""

    room: str
    topic: str
    by: str
    ts: Count


class RoomSummary(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One line of ``room_list``: a room, how many are in it, and its topic."""

    room: str
    users: Count
    topic: str = ""


class RoomList(_Frame, frozen=True, tag="room_list"):
    """Server -> client: a page of the rooms with members, sorted by name (the answer to
    ``rooms``). ``more`` is true when rooms follow the last one listed: ask again with it as
    ``after``."""

    rooms: list[RoomSummary]
    more: bool = False


class History(_Frame, frozen=True, tag="history"):
    """Server -> client: stored messages of ``room`` (or ``@peer``, ``@``), oldest first.

    The answer to ``get_history``, to ``join`` and, after a resume, the messages missed.
    ``more`` is true when the page stopped at its limit: there are more messages in the
    direction asked (older for a ``before`` page or a recent one, newer for an ``after`` page).
    Messages newer than the page that arrive live are sent as ``message`` after this frame,
    never before it, and never twice.
    """

    room: str
    messages: list[Message]
    more: bool = False


class Error(_Frame, frozen=True, tag="error"):
    """Server -> client: the last request was refused, or the connection is about to close.

    ``code`` is stable and machine-readable (see :class:`wirechat_common.errors.ErrorCode`),
    ``detail`` is for humans. ``fatal`` is true when the server closes the connection next.
    ``client_id`` is that of the ``say`` refused, when it carried one, so a client knows which
    of its lines did not go out. ``room`` is the room (or ``@``, ``@peer``) the refused request
    was about, when it named one: a page that will not come, a room that could not be joined.
    """

    code: str
    detail: str = ""
    fatal: bool = False
    client_id: Token | None = None
    room: str | None = None


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


ClientMessage: TypeAlias = (
    Hello | Say | Who | Join | Part | ListRooms | SetTopic | GetHistory | Ping | Pong | Bye
)
ServerMessage: TypeAlias = (
    Welcome
    | Message
    | Ack
    | Joined
    | Left
    | Users
    | RoomInfo
    | Topic
    | RoomList
    | History
    | Error
    | Ping
    | Pong
    | Bye
)
AnyMessage: TypeAlias = ClientMessage | ServerMessage

#: Every message type by its ``type`` tag.
MESSAGE_TYPES: dict[str, type[AnyMessage]] = {
    cls.__struct_config__.tag: cls for cls in typing.get_args(AnyMessage)
}
