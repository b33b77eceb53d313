"""What the network tells the app, and what the app needs of a connection.

The vocabulary shared by :mod:`.net` (which produces these events) and the UI (which shows
them), kept apart so that tests and other front ends can script a connection without sockets.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Final, Protocol, TypeAlias

from wirechat_common import (
    Ack,
    Error,
    ErrorCode,
    GetHistory,
    Join,
    Joined,
    Left,
    ListRooms,
    Message,
    Part,
    RoomInfo,
    RoomList,
    SetTopic,
    Topic,
    Users,
    Welcome,
    Who,
)

from .address import Address
from .resume import PageKind

#: Errors (without a ``client_id``) that come instead of a ``history`` page.
PAGE_ERRORS: Final = frozenset({ErrorCode.STORAGE_UNAVAILABLE, ErrorCode.HISTORY_WINDOW_TOO_LARGE})

#: Errors that, naming a room (``room`` set), mean we are not in it: refused in ``hello`` or
#: ``join`` (``too_many_rooms``), or no longer a member (``not_member``).
ROOM_REFUSALS: Final = frozenset({ErrorCode.TOO_MANY_ROOMS, ErrorCode.NOT_MEMBER})


def refused_room(error: Error) -> str | None:
    """The room ``error`` says we are not in, if it says so."""
    room = error.room
    if error.code in ROOM_REFUSALS and room is not None and room.startswith("#"):
        return room
    return None


class LinkState(StrEnum):
    """Where the connection stands, as shown in the status bar."""

    CONNECTING = "connecting"
    ONLINE = "online"
    OFFLINE = "offline"  # lost, waiting to retry
    CLOSED = "closed"  # for good


@dataclass(frozen=True, slots=True)
class Connecting:
    """An attempt to connect has started; ``attempt`` counts retries since the last success."""

    address: Address
    attempt: int


@dataclass(frozen=True, slots=True)
class Registered:
    """The server accepted our ``hello``. ``reconnected`` is false the first time only."""

    welcome: Welcome
    reconnected: bool


@dataclass(frozen=True, slots=True)
class Disconnected:
    """The link is down. ``retry_in`` seconds until the next attempt, or ``None``: for good.

    ``code`` is the server's error code when it refused us. Lines not yet acknowledged are
    kept and sent again after reconnecting, so only a final disconnection lists them, in
    ``unsent``: they may or may not have arrived.
    """

    reason: str
    retry_in: float | None = None
    code: str | None = None
    unsent: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class HistoryPage:
    """Stored messages of ``room`` (a room, ``@peer`` or ``@``), oldest first.

    ``kind`` says what the page answers: a join (or resume without a cursor) and a request for
    older messages have ``more`` when older ones exist; a page of messages missed while away
    has ``more`` when newer ones exist, and the connection asks for those by itself.
    """

    room: str
    messages: list[Message]
    more: bool
    kind: PageKind


#: What :meth:`Connection.updates` yields: link events and the server's chat traffic.
NetEvent: TypeAlias = (
    Connecting
    | Registered
    | Disconnected
    | Message
    | Ack
    | Joined
    | Left
    | Users
    | RoomInfo
    | Topic
    | RoomList
    | HistoryPage
    | Error
)

#: Requests the app makes besides saying something.
Request: TypeAlias = Who | Join | Part | ListRooms | SetTopic | GetHistory


class Connection(Protocol):
    """What the app needs of a chat connection (a real one, or a scripted one in tests)."""

    @property
    def address(self) -> Address: ...
    @property
    def name(self) -> str: ...

    def updates(self) -> AsyncIterator[list[NetEvent]]: ...
    def say(
        self, text: str, *, action: bool = False, room: str | None = None, to: str | None = None
    ) -> str | None: ...
    def request(self, request: Request) -> bool: ...
    async def close(self) -> None: ...


ConnectionFactory: TypeAlias = Callable[[Address, str], Connection]
