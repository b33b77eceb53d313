"""App-level messages: what the screens ask of the App, and what the network tells it.

Data flows down as method calls and attributes (the App hands events to the chat screen); it
flows up as these messages (a screen asks the App, which owns the connection, to act).
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from .activity import Activity, Alert
from .address import Address
from .events import Connection, NetEvent, Request


@dataclass
class NetworkUpdate(Message):
    """A batch of events from ``connection`` (one socket read's worth)."""

    connection: Connection
    events: list[NetEvent]


@dataclass
class ConnectRequested(Message):
    """The connect screen's form was submitted and is valid."""

    address: Address
    name: str


@dataclass
class SendRequested(Message):
    """Say ``text`` (``action`` for /me) in the conversation ``conversation``: to ``room``,
    or directly to ``to``."""

    text: str
    action: bool
    conversation: str
    room: str | None = None
    to: str | None = None


@dataclass
class ServerRequested(Message):
    """Send ``request`` (join, part, who, a history page...) to the server."""

    request: Request


@dataclass
class QuitRequested(Message):
    """The user typed /quit or bye."""


@dataclass
class ActivityChanged(Message):
    """The unread count (or whether we were mentioned) changed: the terminal's title tells."""

    activity: Activity


@dataclass
class Alerted(Message):
    """Mentions of us, or direct messages, just arrived: the bell, a notification."""

    alerts: list[Alert]


@dataclass
class PaneToggled(Message):
    """The user showed or hid a pane (``users`` or ``rooms``): the App remembers it."""

    pane: str
    shown: bool
