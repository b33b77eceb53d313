"""The plain-text adapter: chat for ``nc``, telnet and the original lab client.

The protocol is the lab server's. The first line is the user's name; the lab client sends its
name with no newline at all, so a first chunk that stays unterminated for ``plain_name_wait``
seconds is taken as the name. Every later line is said to everyone else in the lobby, who see
``NAME: TEXT``; the line ``bye`` leaves. ``/who`` lists who is in the lobby, ``/me TEXT`` sends an
action, ``/msg NAME TEXT`` a direct message, ``/rooms`` lists the rooms and ``/quit`` is ``bye``.
Right after the welcome line come the lobby's recent lines, so a newcomer has context. Output is
plain lines: no colour, no control characters.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Final

from wirechat_common import (
    DEFAULT_ROOM,
    AnyMessage,
    Bye,
    Error,
    ErrorCode,
    History,
    Joined,
    LeaveReason,
    Left,
    LineFramer,
    Message,
    ProtocolError,
    RoomInfo,
    RoomList,
    Topic,
    Users,
    Welcome,
    check_name,
    check_text,
    sanitize_text,
)

if TYPE_CHECKING:
    from .connection import Connection

#: How many names the welcome line lists before it says "and N more".
WELCOME_NAMES_SHOWN: Final = 20

_LEFT_HOW: Final[dict[str, str]] = {
    LeaveReason.QUIT: "left the conversation",
    LeaveReason.DROPPED: "left the conversation unexpectedly",
    LeaveReason.TIMEOUT: "left the conversation (timed out)",
    LeaveReason.TOO_SLOW: "left the conversation (too slow to keep up)",
    LeaveReason.FLOOD: "left the conversation (flooding)",
    LeaveReason.KICKED: "left the conversation (kicked)",
    LeaveReason.SHUTDOWN: "left the conversation (server shutting down)",
    LeaveReason.PART: "left the conversation",
}

#: Commands a plain-text user can type, for the help line.
COMMANDS: Final = "/who, /rooms, /msg NAME TEXT, /me TEXT, /quit"


def _message_line(message: Message) -> str:
    if message.to is not None:  # a direct message
        return f"*{message.sender}* {message.text}\n"
    if message.action:
        return f"* {message.sender} {message.text}\n"
    return f"{message.sender}: {message.text}\n"


def _names(users: list[str], total: int = 0) -> str:
    """The first names of ``users`` and how many more there are (of ``total``, if known)."""
    total = max(total, len(users))
    shown = ", ".join(users[:WELCOME_NAMES_SHOWN])
    if total > min(len(users), WELCOME_NAMES_SHOWN):
        shown += f" and {total - min(len(users), WELCOME_NAMES_SHOWN)} more"
    return shown


class PlainWire:
    """Plain-text clients see events as the lab server's lines."""

    __slots__ = ()

    def render(self, event: AnyMessage) -> bytes:
        match event:
            case Message():
                line = _message_line(event)
            case History(messages=messages):
                line = "".join(map(_message_line, messages))
            case Joined(name=name):
                line = f"{name} joined the conversation\n"
            case Left(name=name, reason=reason):
                how = _LEFT_HOW.get(reason, f"left the conversation ({reason})")
                line = f"{name} {how}\n"
            case Welcome(name=name, users=users, online=online):
                total = max(online, len(users))
                people = "nobody else" if total <= 1 else f"{total} here: {_names(users, total)}"
                line = (
                    f"Welcome to the chat, {name}! {people}. "
                    "Type a line to say it to everyone; enter 'bye' anytime to exit "
                    f"({COMMANDS}).\n"
                )
            case RoomInfo(topic=topic) if topic:
                line = f"Topic: {topic}\n"
            case Topic(by=by, topic=topic):
                line = f"{by} set the topic: {topic}\n" if topic else f"{by} cleared the topic\n"
            case RoomList(rooms=rooms):
                listed = ", ".join(f"{room.room} ({room.users})" for room in rooms)
                line = f"{len(rooms)} rooms: {listed}\n"
            case Users(users=users):
                line = f"{len(users)} here: {_names(users)}\n"
            case Error(code=ErrorCode.NAME_TAKEN):
                line = "Username already taken!\n"
            case Error(code=code, detail=detail):
                line = f"error: {sanitize_text(detail)} ({code})\n"
            case Bye(reason=LeaveReason.SHUTDOWN):
                line = "The server is shutting down. Goodbye!\n"
            case Bye():
                line = "Goodbye!\n"
            case _:
                return b""  # acks and pings mean nothing to a person at a terminal
        return line.encode("utf-8")

    def __repr__(self) -> str:
        return "plain"


PLAIN: Final = PlainWire()


class PlainSession:
    """One plain-text client's side of the conversation."""

    __slots__ = ("_connection", "_framer", "_name_chunk", "_name_timer")
    wire: Final = PLAIN
    kind: Final = "plain"

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._framer = LineFramer(connection.config.max_line_bytes)
        self._name_timer: asyncio.TimerHandle | None = None
        self._name_chunk: bytes | None = None

    def receive(self, data: bytes) -> None:
        self._framer.receive_data(data)
        connection = self._connection
        if not connection.registered and self._name_timer is None:
            self._name_timer = connection.loop.call_later(
                connection.config.plain_name_wait, self._take_unterminated_name
            )

    def _take_unterminated_name(self) -> None:
        self._name_timer = None  # fired; the next chunk may start another wait
        connection = self._connection
        if connection.registered or connection.closed or self._framer.complete_lines():
            return
        chunk = self._framer.take_rest()
        if chunk.strip():  # whitespace only: wait for a real name
            self._name_chunk = chunk
            connection.pump()

    def next_request(self) -> bytes | None:
        if self._name_chunk is not None:
            chunk, self._name_chunk = self._name_chunk, None
            return chunk
        return self._framer.next_line()

    def pending_requests(self) -> int:
        return self._framer.complete_lines()

    def handle(self, line: bytes) -> None:
        connection = self._connection
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            # Binary junk instead of a name (a TLS hello, say) is not worth waiting for.
            raise ProtocolError(
                ErrorCode.BAD_UTF8, "that line is not valid UTF-8", fatal=not connection.registered
            ) from None
        if not connection.registered:
            name = text.strip()
            if name:  # a blank line first (Enter pressed before typing) is no name: wait on
                self._register(name)
            return
        command = text.strip()
        if not command:
            return  # an empty line (Enter pressed by accident) says nothing
        lowered = command.lower()
        if lowered in ("bye", "/quit"):
            connection.close(LeaveReason.QUIT, farewell=Bye(reason=LeaveReason.QUIT))
        elif lowered == "/who":
            connection.core.who(connection, DEFAULT_ROOM)
        elif lowered == "/rooms":
            connection.core.list_rooms(connection)
        elif lowered == "/me" or lowered.startswith("/me "):
            action = command[4:].strip()
            if not action:
                raise ProtocolError(ErrorCode.BAD_REQUEST, "usage: /me ACTION")
            connection.core.say(
                connection, check_text(action, connection.config.max_text_bytes), action=True
            )
        elif lowered == "/msg" or lowered.startswith("/msg "):
            to, _, body = command[5:].strip().partition(" ")
            if not to or not body.strip():
                raise ProtocolError(ErrorCode.BAD_REQUEST, "usage: /msg NAME TEXT")
            body = check_text(body.strip(), connection.config.max_text_bytes)
            connection.core.direct(connection, check_name(to), body)
        else:
            connection.core.say(connection, check_text(text, connection.config.max_text_bytes))

    def _register(self, name: str) -> None:
        if self._name_timer is not None:
            self._name_timer.cancel()
            self._name_timer = None
        connection = self._connection
        try:
            connection.register(check_name(name))
        except ProtocolError as error:
            # The lab client sends its name once and cannot retry: say why, then close.
            error.fatal = True
            raise

    def cancel_timers(self) -> None:
        if self._name_timer is not None:
            self._name_timer.cancel()
            self._name_timer = None
