"""The rules for user names, shared so that servers and clients agree on what is valid.

Names are ASCII letters, digits, ``_``, ``-`` and ``.``, starting with a letter or digit, 1 to
:data:`MAX_NAME_LENGTH` long, and
unique under case folding (``Alice`` and ``alice`` are the same user). ASCII-only is deliberate:
Unicode names invite look-alikes (a Cyrillic capital Ve for a Latin B) that need PRECIS and
confusable skeletons to handle safely; Ergo recommends the same ``ascii`` casemapping.
"""

from __future__ import annotations

import re
from typing import Final

from .errors import ErrorCode, ProtocolError
from .limits import MAX_NAME_LENGTH, MAX_ROOM_LENGTH

NAME_CHARACTERS: Final = "ASCII letters, digits, '_', '-' and '.', starting with a letter or digit"

# The first character is a letter or digit: names like "." or "--" read as punctuation.
_NAME_RE: Final = re.compile(rf"[A-Za-z0-9][A-Za-z0-9_.\-]{{0,{MAX_NAME_LENGTH - 1}}}")


def is_valid_name(name: str) -> bool:
    """Whether ``name`` follows the name rules."""
    return _NAME_RE.fullmatch(name) is not None


def check_name(name: str) -> str:
    """Return ``name`` if it is valid, else raise :class:`ProtocolError` (``invalid_name``)."""
    if _NAME_RE.fullmatch(name) is None:
        raise ProtocolError(
            ErrorCode.INVALID_NAME,
            f"names are 1-{MAX_NAME_LENGTH} characters: {NAME_CHARACTERS}",
        )
    return name


def name_key(name: str) -> str:
    """The identity of a name: two names clash when their keys are equal.

    Valid names are ASCII, so lower-casing is case folding; it is spelled out here so that every
    component compares names the same way.
    """
    key = name.lower()
    # Most names are lower case already: one string per user then, not two equal ones.
    return name if key == name else key


#: Room names are ``#`` followed by a valid user name: the ``#`` keeps rooms and users apart
#: everywhere a name may be either (``/msg``, history requests, plain-text commands).
ROOM_CHARACTERS: Final = f"'#' and then {NAME_CHARACTERS}"

_ROOM_RE: Final = re.compile(rf"#[A-Za-z0-9][A-Za-z0-9_.\-]{{0,{MAX_ROOM_LENGTH - 2}}}")


def is_valid_room(room: str) -> bool:
    """Whether ``room`` follows the room name rules."""
    return _ROOM_RE.fullmatch(room) is not None


def check_room(room: str) -> str:
    """Return ``room`` if it is valid, else raise :class:`ProtocolError` (``invalid_room``)."""
    if _ROOM_RE.fullmatch(room) is None:
        raise ProtocolError(
            ErrorCode.INVALID_ROOM,
            f"room names are 2-{MAX_ROOM_LENGTH} characters: {ROOM_CHARACTERS}",
        )
    return room


def room_key(room: str) -> str:
    """The identity of a room: ``#Lobby`` and ``#lobby`` are the same room."""
    return room.lower()


def check_conversation(conversation: str) -> str:
    """Return a history target if valid: a room, ``@`` (all one's direct messages) or ``@name``
    (those with one user); else raise :class:`ProtocolError` (``invalid_room``)."""
    if conversation == "@" or (conversation[:1] == "@" and is_valid_name(conversation[1:])):
        return conversation
    if _ROOM_RE.fullmatch(conversation) is None:
        raise ProtocolError(
            ErrorCode.INVALID_ROOM,
            f"history is of a room ({ROOM_CHARACTERS}), '@' or '@name'",
        )
    return conversation
