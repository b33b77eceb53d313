"""What a line typed in the input means: text to say, a slash command, or a local mistake.

Parsing is pure so it can be tested without a UI. An unknown command or a bad argument is an
error shown locally and never sent: a mistyped ``/qiut`` must not end up in front of everyone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from wirechat_common import (
    MAX_NAME_LENGTH,
    MAX_TEXT_BYTES,
    MAX_TOPIC_BYTES,
    ProtocolError,
    check_text,
    is_valid_name,
    is_valid_room,
)

#: Every command with its argument and help line, in the order /help shows them.
COMMANDS: Final = {
    "/help": ("", "show the commands and keys"),
    "/join": ("#ROOM", "join a room (made if nobody is in it) and show it"),
    "/part": ("[#ROOM]", "leave this room (or #ROOM); in a direct conversation, close it"),
    "/msg": ("NAME [TEXT]", "send NAME a direct message; without TEXT, open the conversation"),
    "/topic": ("[TEXT]", "set this room's topic; without TEXT, show it"),
    "/rooms": ("[#ROOM]", "list the rooms on the server (a page; #ROOM: the page after it)"),
    "/who": ("", "list who is in this room"),
    "/me": ("ACTION", "say an action (/me waves shows as * alice waves)"),
    "/clear": ("", "clear this conversation's log (on this screen only)"),
    "/search": ("[TEXT]", "find TEXT in this log (Ctrl+R: the next older); alone: stop"),
    "/quit": ("", "leave the chat (typing bye asks first)"),
}


@dataclass(frozen=True, slots=True)
class Send:
    """Say ``text`` in the conversation shown; ``action`` for ``/me``."""

    text: str
    action: bool = False


@dataclass(frozen=True, slots=True)
class Run:
    """Run the argument-less command ``name`` (one of :data:`COMMANDS`, or ``bye``)."""

    name: str


@dataclass(frozen=True, slots=True)
class ListRoomsFrom:
    """Ask for a page of the room list, from the first room after ``after`` (``None``: the
    first page)."""

    after: str | None


@dataclass(frozen=True, slots=True)
class JoinRoom:
    room: str


@dataclass(frozen=True, slots=True)
class PartRoom:
    """Leave ``room``, or (``None``) the conversation shown."""

    room: str | None


@dataclass(frozen=True, slots=True)
class SendDirect:
    """Say ``text`` to ``name`` directly; an empty ``text`` just opens the conversation."""

    name: str
    text: str


@dataclass(frozen=True, slots=True)
class ChangeTopic:
    """Set the topic of the room shown; an empty ``topic`` shows it instead."""

    topic: str


@dataclass(frozen=True, slots=True)
class Search:
    """Find ``text`` in the log shown (a local command: nothing is sent); empty: stop."""

    text: str


@dataclass(frozen=True, slots=True)
class Invalid:
    """The line cannot be sent; ``reason`` tells the user why."""

    reason: str


Parsed = (
    Send | Run | ListRoomsFrom | JoinRoom | PartRoom | SendDirect | ChangeTopic | Search | Invalid
)

_NO_ARGUMENT: Final = frozenset({"/help", "/who", "/clear", "/quit"})


def parse_line(line: str, max_text_bytes: int = MAX_TEXT_BYTES) -> Parsed | None:
    """Interpret a submitted line; ``None`` for a blank one, which does nothing."""
    text = line.rstrip()
    if not text.strip():
        return None
    if text.strip().lower() == "bye":  # the lab client's way out, kept for old habits
        return Run("bye")  # asks first: "bye" alone may well have been meant for the room
    if text.startswith("//"):  # IRC's escape: "//etc/hosts" says "/etc/hosts"
        return _checked(Send(text[1:]), max_text_bytes)
    if not text.startswith("/"):
        return _checked(Send(text), max_text_bytes)
    command, _, argument = text.partition(" ")
    command, argument = command.lower(), argument.strip()
    if command == "/me":
        if not argument:
            return Invalid("usage: /me ACTION")
        return _checked(Send(argument, action=True), max_text_bytes)
    if command in _NO_ARGUMENT:
        return Run(command)
    if command == "/rooms":
        return _rooms(argument)
    if command == "/join":
        return _join(argument)
    if command == "/part":
        return _part(argument)
    if command == "/msg":
        return _msg(argument, max_text_bytes)
    if command == "/topic":
        return _topic(argument)
    if command == "/search":
        return Search(argument)
    return Invalid(f"unknown command {command}: /help lists them (start with // to say it)")


def as_room(word: str) -> str | None:
    """``word`` as a room name (``dev`` is taken as ``#dev``), or ``None`` if it is not one."""
    room = word if word.startswith("#") else f"#{word}"
    return room if is_valid_room(room) else None


def _rooms(argument: str) -> Parsed:
    if not argument:
        return ListRoomsFrom(None)
    room = as_room(argument) if " " not in argument else None
    if room is None:
        return Invalid(f"usage: /rooms [#ROOM] ({_ROOM_RULE})")
    return ListRoomsFrom(room)


def _join(argument: str) -> Parsed:
    room = as_room(argument) if argument and " " not in argument else None
    if room is None:
        return Invalid(f"usage: /join #ROOM ({_ROOM_RULE})")
    return JoinRoom(room)


def _part(argument: str) -> Parsed:
    if not argument:
        return PartRoom(None)
    room = as_room(argument) if " " not in argument else None
    if room is None:
        return Invalid(f"usage: /part [#ROOM] ({_ROOM_RULE})")
    return PartRoom(room)


def _msg(argument: str, max_text_bytes: int) -> Parsed:
    name, _, text = argument.partition(" ")
    if not name:
        return Invalid("usage: /msg NAME [TEXT]")
    if not is_valid_name(name):
        return Invalid(f"/msg: {name!r} is not a user name")
    text = text.strip()
    if text:
        checked = _checked(Send(text), max_text_bytes)
        if isinstance(checked, Invalid):
            return checked
    return SendDirect(name, text)


def _topic(argument: str) -> Parsed:
    if argument:
        try:
            check_text(argument, MAX_TOPIC_BYTES)
        except ProtocolError as error:
            return Invalid(f"topic not set: {error.detail}")
    return ChangeTopic(argument)


_ROOM_RULE: Final = f"# and 1-{MAX_NAME_LENGTH} letters, digits, '_', '-' or '.'"


def _checked(send: Send, max_text_bytes: int) -> Send | Invalid:
    try:
        check_text(send.text, max_text_bytes)
    except ProtocolError as error:
        return Invalid(f"not sent: {error.detail}")
    return send


def help_lines() -> list[str]:
    """The text of ``/help``: short lines, since the log may be narrow."""
    lines = ["Commands:"]
    for name, (argument, meaning) in COMMANDS.items():
        lines.append(f"{name} {argument}".rstrip() + f": {meaning}")
    lines += [
        "//TEXT: say TEXT, starting with a slash",
        "Keys: Enter send · Ctrl+J new line · Up/Down history · Tab complete",
        "Alt+1..9, Alt+0 conversation 1..10 · Alt+A next with unread messages",
        "Ctrl+P/Ctrl+N or Alt+Up/Alt+Down previous/next conversation",
        "PgUp/PgDn scroll (at the top: older messages) · Ctrl+End newest",
        "Shift+Tab pick a user to mention · F2 user list · F3 conversation list",
        "Ctrl+R search the log (again: the next older match)",
        "Ctrl+L redraw · F4 themes and more · Ctrl+Q quit",
    ]
    return lines
