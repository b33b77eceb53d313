"""The plain-text dialect: chat for ``nc``, telnet and the original lab client.

The protocol is the lab server's. The first line is the user's name; the lab client sends its
name with no newline at all, so a first chunk that stays unterminated for ``plain_name_wait``
seconds is taken as the name. Every later line is said to everyone else in the lobby, who see
``NAME: TEXT``; the line ``bye`` leaves. ``/who`` lists who is in the lobby, ``/me TEXT`` sends an
action, ``/msg NAME TEXT`` a direct message, ``/rooms`` lists the rooms (a page; ``/rooms NAME``
the next, after NAME) and ``/quit`` is ``bye``.
Right after the welcome line come the lobby's recent lines, so a newcomer has context. Output is
plain lines: no colour, no control characters.
"""

from __future__ import annotations

from typing import Final

from wirechat_common import (
    DEFAULT_ROOM,
    LAB_LEAVE_WORDING,
    AnyMessage,
    Bye,
    Error,
    ErrorCode,
    Hello,
    History,
    Joined,
    LeaveReason,
    Left,
    LineFramer,
    ListRooms,
    Message,
    ProtocolError,
    RoomInfo,
    RoomList,
    Say,
    Topic,
    Users,
    Welcome,
    Who,
    check_name,
    check_text,
    people_here,
    sanitize_text,
)

from ..config import ServerConfig

#: Commands a plain-text user can type, for the help line.
COMMANDS: Final = "/who, /rooms, /msg NAME TEXT, /me TEXT, /quit"


def _message_line(message: Message) -> str:
    if message.to is not None:  # a direct message
        return f"*{message.sender}* {message.text}\n"
    if message.action:
        return f"* {message.sender} {message.text}\n"
    return f"{message.sender}: {message.text}\n"


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
                line = f"{name} {LAB_LEAVE_WORDING.phrase(reason)}\n"
            case Welcome(name=name, users=users, online=online):
                total = max(online, len(users))
                people = "You are the only one here" if total <= 1 else people_here(users, online)
                line = (
                    f"Welcome to the chat, {name}! {people}. "
                    "Type a line to say it to everyone; enter 'bye' anytime to exit "
                    f"({COMMANDS}).\n"
                )
            case RoomInfo(topic=topic) if topic:
                line = f"Topic: {topic}\n"
            case Topic(by=by, topic=topic):
                line = f"{by} set the topic: {topic}\n" if topic else f"{by} cleared the topic\n"
            case RoomList(rooms=rooms, more=more):
                listed = ", ".join(f"{room.room} ({room.users})" for room in rooms)
                count = f"{len(rooms)} room{'' if len(rooms) == 1 else 's'}"
                if more and rooms:  # a page: say how to see the next one
                    count += f" (more: /rooms {rooms[-1].room})"
                line = f"{count}: {listed}\n"
            case Users(users=users):
                line = f"{people_here(users)}\n"
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


class PlainDialect:
    """One plain-text client's side of the conversation."""

    __slots__ = ("_config", "_framer", "_name_chunk", "_registered")
    kind: Final = "plain"
    wire: Final = PLAIN
    retries_hello: Final = False  # the lab client sends its name once and cannot retry

    def __init__(self, config: ServerConfig) -> None:
        self._config = config
        self._framer = LineFramer(config.max_line_bytes)
        self._name_chunk: bytes | None = None
        self._registered = False  # from then on only whole lines count

    @property
    def recent_on_welcome(self) -> int:
        return self._config.plain_history_lines

    def receive(self, data: bytes) -> None:
        self._framer.receive_data(data)

    def incomplete_wait(self) -> float | None:
        """An unterminated first chunk waits ``plain_name_wait``, then is the name."""
        return None if self._registered else self._config.plain_name_wait

    def stalled(self) -> None:
        if self._registered or self._framer.complete_lines():
            return
        chunk = self._framer.take_rest()
        if chunk.strip():  # whitespace only: wait for a real name
            self._name_chunk = chunk

    def registered(self) -> None:
        self._registered = True

    def next_request(self) -> bytes | None:
        if self._name_chunk is not None:
            chunk, self._name_chunk = self._name_chunk, None
            return chunk
        return self._framer.next_line()

    def pending_requests(self) -> int:
        return self._framer.complete_lines()

    def probe(self, now: float) -> None:
        return None  # a person at a terminal cannot answer pings; TCP keepalive watches them

    def translate(self, raw: object) -> AnyMessage | None:
        assert isinstance(raw, bytes)
        registering = not self._registered
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            # Binary junk instead of a name is not worth waiting for.
            raise ProtocolError(
                ErrorCode.BAD_UTF8, "that line is not valid UTF-8", fatal=registering
            ) from None
        if registering:
            name = text.strip()
            # A blank line first (Enter pressed before typing) is no name: wait on.
            return Hello(name=check_name(name)) if name else None
        command = text.strip()
        if not command:
            return None  # an empty line (Enter pressed by accident) says nothing
        lowered = command.lower()
        if lowered in ("bye", "/quit"):
            return Bye(reason=LeaveReason.QUIT)
        if lowered == "/who":
            return Who(room=DEFAULT_ROOM)
        if lowered == "/rooms" or lowered.startswith("/rooms "):
            after = command[7:].strip()
            return ListRooms(after=after or None)
        if lowered == "/me" or lowered.startswith("/me "):
            action = command[4:].strip()
            if not action:
                raise ProtocolError(ErrorCode.BAD_REQUEST, "usage: /me ACTION")
            return Say(text=check_text(action, self._config.max_text_bytes), action=True)
        if lowered == "/msg" or lowered.startswith("/msg "):
            to, _, body = command[5:].strip().partition(" ")
            if not to or not body.strip():
                raise ProtocolError(ErrorCode.BAD_REQUEST, "usage: /msg NAME TEXT")
            return Say(
                text=check_text(body.strip(), self._config.max_text_bytes), to=check_name(to)
            )
        return Say(text=check_text(text, self._config.max_text_bytes))
