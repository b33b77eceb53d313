"""The exception raised for protocol violations, and the stable error codes peers exchange.

Exception tree::

    Exception
     └── ProtocolError          the peer sent something the protocol forbids; carries ``code``

``ProtocolError.code`` is one of :class:`ErrorCode`. A server sends the code back to the client in
an ``error`` frame; the codes are part of the protocol and never change meaning. ``fatal`` says
whether the byte stream can still be trusted: after a fatal error (a frame too large to have been
buffered) the connection must be closed, because the next byte may be in the middle of a frame.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .messages import AnyMessage


class ErrorCode(StrEnum):
    """Machine-readable reasons carried by ``error`` frames and :class:`ProtocolError`."""

    # Framing and decoding: raised by the codec.
    FRAME_TOO_LARGE = "frame_too_large"
    BAD_UTF8 = "bad_utf8"
    BAD_JSON = "bad_json"
    UNKNOWN_TYPE = "unknown_type"
    INVALID_FIELD = "invalid_field"
    INVALID_NAME = "invalid_name"
    INVALID_TEXT = "invalid_text"
    TEXT_TOO_LONG = "text_too_long"
    INVALID_ROOM = "invalid_room"
    BAD_REQUEST = "bad_request"  # fields that are valid alone but not together
    # Session rules: raised by servers.
    UNSUPPORTED_VERSION = "unsupported_version"
    NAME_TAKEN = "name_taken"
    NOT_REGISTERED = "not_registered"
    ALREADY_REGISTERED = "already_registered"
    REGISTER_TIMEOUT = "register_timeout"
    REGISTER_ABUSE = "register_abuse"
    PROTOCOL_VIOLATION = "protocol_violation"
    FLOOD = "flood"
    TOO_SLOW = "too_slow"
    TIMEOUT = "timeout"
    SERVER_FULL = "server_full"
    TOO_MANY_CONNECTIONS = "too_many_connections"
    INTERNAL_ERROR = "internal_error"
    # Rooms, direct messages and history: raised by servers, never fatal.
    NOT_MEMBER = "not_member"  # the request names a room the connection has not joined
    NO_SUCH_USER = "no_such_user"  # a direct message to someone not connected
    TOO_MANY_ROOMS = "too_many_rooms"  # max_rooms_per_user, or the server's max_rooms
    HISTORY_WINDOW_TOO_LARGE = "history_window_too_large"  # limit above the server's maximum
    STORAGE_UNAVAILABLE = "storage_unavailable"  # the message could not be stored: not relayed
    BUSY = "busy"  # too many messages wait for the disk: not relayed, try again shortly
    STORAGE_FULL = "storage_full"  # the server's store or disk is full: not relayed; reads go on


class ProtocolError(Exception):
    """The peer broke the protocol.

    ``code`` is the :class:`ErrorCode` to report, ``detail`` a human-readable explanation safe to
    send back to the peer (no paths, no tracebacks), ``fatal`` whether the connection must close.
    When raised by :meth:`Decoder.feed <wirechat_common.codec.Decoder.feed>`, ``messages`` holds
    the good messages that came before the bad frame in the same call.
    """

    def __init__(
        self,
        code: ErrorCode,
        detail: str,
        *,
        fatal: bool = False,
        client_id: str | None = None,
        room: str | None = None,
    ) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail
        self.fatal = fatal
        self.messages: list[AnyMessage] = []
        #: The ``client_id`` of the ``say`` refused, for the error frame to echo.
        self.client_id = client_id
        #: The room (or conversation) the refused request was about, for the frame to echo.
        self.room = room
