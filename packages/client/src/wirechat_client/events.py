"""What the network tells the app, and what the app needs of a connection.

The vocabulary shared by :mod:`.net` (which produces these events) and the UI (which shows
them), kept apart so that tests and other front ends can script a connection without sockets.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, TypeAlias

from wirechat_common import Ack, Error, Joined, Left, Message, Users, Welcome

from .address import Address


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

    ``code`` is the server's error code when it refused us. ``unconfirmed`` lists the
    ``client_id`` of lines sent but never acknowledged: they may or may not have arrived.
    """

    reason: str
    retry_in: float | None = None
    code: str | None = None
    unconfirmed: tuple[str, ...] = ()


#: What :meth:`Connection.updates` yields: link events and the server's chat traffic.
NetEvent: TypeAlias = (
    Connecting | Registered | Disconnected | Message | Ack | Joined | Left | Users | Error
)


class Connection(Protocol):
    """What the app needs of a chat connection (a real one, or a scripted one in tests)."""

    @property
    def address(self) -> Address: ...
    @property
    def name(self) -> str: ...

    def updates(self) -> AsyncIterator[list[NetEvent]]: ...
    def say(self, text: str, *, action: bool = False) -> str | None: ...
    def who(self) -> bool: ...
    async def close(self) -> None: ...


ConnectionFactory: TypeAlias = Callable[[Address, str], Connection]
