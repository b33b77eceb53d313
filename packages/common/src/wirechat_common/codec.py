"""Framing and (de)serialisation: messages to bytes and bytes to messages, with no I/O.

A frame is one JSON object encoded as UTF-8 and terminated by ``\\n`` (a ``\\r`` before the
``\\n`` is tolerated, blank lines are skipped). :func:`encode` turns a message into a frame;
:class:`Decoder` turns a byte stream, fed in chunks of any size, back into messages.

The decoder is built to face hostile input. Its :class:`~wirechat_common.framing.LineFramer`
buffers at most ``max_frame_bytes`` (plus the terminator) of an incomplete frame and fails the
moment more arrives, never skipping ahead to the next newline. Every
failure is a :class:`ProtocolError` with a code: msgspec's own surprises (``UnicodeDecodeError``
for invalid UTF-8, ``RecursionError`` for deep nesting, silently accepted duplicate keys) are
caught and translated here.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from typing import Any, Final

import msgspec

from .errors import ErrorCode, ProtocolError
from .framing import LineFramer
from .limits import MAX_FRAME_BYTES, MAX_NESTING_DEPTH, MAX_TEXT_BYTES, MAX_TOPIC_BYTES
from .messages import (
    MESSAGE_TYPES,
    AnyMessage,
    GetHistory,
    Hello,
    Join,
    Part,
    Say,
    SetTopic,
    Who,
)
from .names import check_conversation, check_name, check_room
from .text import check_text

_encoder: Final = msgspec.json.Encoder()
_JSON_WHITESPACE: Final = b" \t\r"
# Strings and the escapes inside them, so brackets in text do not count towards nesting. The
# closing quote is optional so that an unterminated string is consumed in one linear match: with
# it required, every quote of such a frame would start a scan to the end (quadratic, and a
# client could stall the server with one 16 KiB frame).
_JSON_STRING: Final = re.compile(rb'"(?:[^"\\]|\\.)*"?')
_BRACKETS: Final = re.compile(rb"[\[\]{}]")


def encode(message: AnyMessage) -> bytes:
    """Encode ``message`` as one frame: compact JSON and a terminating ``\\n``."""
    return _encoder.encode(message) + b"\n"


def _check_depth(frame: bytes) -> None:
    """Refuse a frame whose arrays and objects nest deeper than :data:`MAX_NESTING_DEPTH`."""
    depth = 0
    for bracket in _BRACKETS.findall(_JSON_STRING.sub(b'""', frame)):
        if bracket in b"[{":
            depth += 1
            if depth > MAX_NESTING_DEPTH:
                raise ProtocolError(
                    ErrorCode.BAD_JSON, f"frame nests deeper than {MAX_NESTING_DEPTH} levels"
                )
        else:
            depth -= 1


class _TypeOnly(msgspec.Struct):
    type: str


def _quoted_keys(cls: type[AnyMessage]) -> tuple[bytes, ...]:
    return tuple(f'"{name}"'.encode() for name in ("type", *cls.__struct_fields__))


# Keys as they appear in a frame, per message type, for the duplicate-key screen.
_KEYS: Final = {cls: _quoted_keys(cls) for cls in MESSAGE_TYPES.values()}
_FIELDS: Final = {
    cls: frozenset(("type", *cls.__struct_fields__)) for cls in MESSAGE_TYPES.values()
}


def _check_duplicate_keys(frame: bytes, cls: type[AnyMessage]) -> None:
    """Refuse a frame that names one of its message's fields twice.

    msgspec keeps the last value of a duplicated key, and other parsers keep the first, so a frame
    with duplicates means different things to different readers: a classic smuggling trick. An
    unescaped ``"key"`` can only appear in a frame as a key or as a whole string value, and a key
    can only be spelled differently with a ``\\u`` escape, so a frame where no field's ``"key"``
    appears twice and no ``\\u`` appears has no duplicated field; only other frames are parsed
    again, slowly, to tell. Only the fields of the top-level object count: duplicates inside
    unknown fields are ignored like the rest of those fields, whatever the frame's content.
    """
    if b"\\u" not in frame and all(frame.count(quoted) <= 1 for quoted in _KEYS[cls]):
        return
    objects: list[list[tuple[str, Any]]] = []
    try:
        # parse_int=str: the value is not needed, and int() refuses more than 4300 digits.
        json.loads(frame, object_pairs_hook=objects.append, parse_int=str)
    except RecursionError:
        raise ProtocolError(ErrorCode.BAD_JSON, "frame nests too deeply") from None
    except ValueError:
        raise ProtocolError(ErrorCode.BAD_JSON, "frame is not valid JSON") from None
    fields = _FIELDS[cls]
    seen: set[str] = set()
    for key, _ in objects[-1]:  # objects are completed inside out: the last is the frame itself
        if key in fields:
            if key in seen:
                raise ProtocolError(ErrorCode.BAD_JSON, f"duplicate key {key!r}")
            seen.add(key)


@functools.cache
def _parser_for(types: Any) -> tuple[msgspec.json.Decoder[AnyMessage], frozenset[str]]:
    """The msgspec decoder and accepted tags for ``types``, shared by every :class:`Decoder`:
    a server holds one Decoder per connection, and these are the bulk of one's memory."""
    members = getattr(types, "__args__", (types,))
    tags = frozenset(cls.__struct_config__.tag for cls in members)
    return msgspec.json.Decoder(types), tags


class Decoder:
    """Turns a byte stream into messages, one ``\\n``-terminated JSON frame at a time.

    ``types`` is the union of message types this end accepts (a server passes
    :data:`~wirechat_common.messages.ClientMessage`, a client
    :data:`~wirechat_common.messages.ServerMessage`); any other ``type`` is ``unknown_type``.
    ``max_text_bytes`` bounds the text of a ``say``. The text of ``say`` and the name of ``hello``
    are checked against the text and name rules while decoding, so a decoded message is valid.

    Two ways to use it:

    - :meth:`feed` adds bytes and returns every message they complete. It raises
      :class:`ProtocolError` for the first bad frame; the messages decoded before it in the same
      call travel with the exception as ``error.messages``. Unless ``error.fatal``, the bad frame
      has been consumed and the decoder carries on: call ``feed(b"")`` to decode what followed.
    - :meth:`receive_data` and :meth:`next_message`, h11-style, to pull one message at a time and
      leave the rest buffered (a server applying a rate limit does this).

    After a fatal error the decoder only raises the same error again.
    """

    __slots__ = ("_decoder", "_framer", "_max_text_bytes", "_tags")

    def __init__(
        self,
        max_frame_bytes: int = MAX_FRAME_BYTES,
        *,
        max_text_bytes: int = MAX_TEXT_BYTES,
        types: Any = AnyMessage,
    ) -> None:
        self._framer = LineFramer(max_frame_bytes)
        self._max_text_bytes = max_text_bytes
        self._decoder, self._tags = _parser_for(types)

    @property
    def buffered(self) -> int:
        """Bytes received but not yet decoded."""
        return self._framer.buffered

    def complete_frames(self) -> int:
        """How many complete frames (blank lines included) wait for :meth:`next_message`."""
        return self._framer.complete_lines()

    def receive_data(self, data: bytes) -> None:
        """Append ``data`` to the stream."""
        self._framer.receive_data(data)

    def next_message(self) -> AnyMessage | None:
        """The next message, or ``None`` until more data arrives; raises :class:`ProtocolError`."""
        framer = self._framer
        while True:
            frame = framer.next_line()
            if frame is None:
                return None
            if frame.strip(_JSON_WHITESPACE):
                return self._decode_frame(frame)

    def feed(self, data: bytes) -> list[AnyMessage]:
        """Add ``data`` to the stream and return every message it completes, in order."""
        self._framer.receive_data(data)
        messages: list[AnyMessage] = []
        try:
            while (message := self.next_message()) is not None:
                messages.append(message)
        except ProtocolError as error:
            error.messages = messages
            raise
        return messages

    def _decode_frame(self, frame: bytes) -> AnyMessage:
        # msgspec only checks the UTF-8 of the strings it keeps, not of the fields it skips.
        if not frame.isascii():
            try:
                frame.decode("utf-8")
            except UnicodeDecodeError:
                raise ProtocolError(ErrorCode.BAD_UTF8, "frame is not valid UTF-8") from None
        # Two counts in C are cheap; only a frame with many brackets gets its depth measured.
        if frame.count(b"[") + frame.count(b"{") > MAX_NESTING_DEPTH:
            _check_depth(frame)
        try:
            message = self._decoder.decode(frame)
        except msgspec.ValidationError as error:
            raise self._classify(frame, error) from None
        except msgspec.DecodeError as error:
            raise ProtocolError(ErrorCode.BAD_JSON, str(error)) from None
        except UnicodeDecodeError:
            raise ProtocolError(ErrorCode.BAD_UTF8, "frame is not valid UTF-8") from None
        except RecursionError:
            raise ProtocolError(ErrorCode.BAD_JSON, "frame nests too deeply") from None
        cls = type(message)
        _check_duplicate_keys(frame, cls)
        check = _CONTENT_CHECKS.get(cls)
        if check is not None:
            check(message, self._max_text_bytes)
        return message

    def _classify(self, frame: bytes, error: msgspec.ValidationError) -> ProtocolError:
        """Tell an unknown ``type`` from a bad field (the rare path, so a second parse is fine)."""
        try:
            tag = msgspec.json.decode(frame, type=_TypeOnly).type
        except (msgspec.MsgspecError, UnicodeDecodeError, RecursionError):
            return ProtocolError(ErrorCode.INVALID_FIELD, str(error))
        if tag not in self._tags:
            if tag in MESSAGE_TYPES:
                return ProtocolError(
                    ErrorCode.UNKNOWN_TYPE, f"{tag!r} is not a message this side accepts"
                )
            return ProtocolError(ErrorCode.UNKNOWN_TYPE, f"unknown message type {tag!r}")
        return ProtocolError(ErrorCode.INVALID_FIELD, str(error))


# -- content rules, per message type ------------------------------------------------------------
# msgspec checks types and ranges; these check what a schema cannot say: names, rooms, text, and
# fields that are valid alone but not together.


def _check_say(message: Any, max_text_bytes: int) -> None:
    try:
        check_text(message.text, max_text_bytes)
        if message.room is not None and message.to is not None:
            raise ProtocolError(ErrorCode.BAD_REQUEST, "say goes to a room or to a user, not both")
        if message.room is not None:
            check_room(message.room)
        if message.to is not None:
            check_name(message.to)
    except ProtocolError as error:
        raise ProtocolError(
            error.code, error.detail, fatal=error.fatal, client_id=message.client_id
        ) from None


def _check_hello(message: Any, max_text_bytes: int) -> None:
    check_name(message.name)
    for room in message.rooms or ():
        check_room(room)


def _check_room_field(message: Any, max_text_bytes: int) -> None:
    if message.room is not None:
        check_room(message.room)


def _check_set_topic(message: Any, max_text_bytes: int) -> None:
    check_room(message.room)
    if message.topic:
        check_text(message.topic, MAX_TOPIC_BYTES)


def _check_get_history(message: Any, max_text_bytes: int) -> None:
    check_conversation(message.room)
    if message.before is not None and message.after is not None:
        raise ProtocolError(ErrorCode.BAD_REQUEST, "a history page goes before or after, not both")


_CONTENT_CHECKS: Final[dict[type[AnyMessage], Callable[[Any, int], None]]] = {
    Say: _check_say,
    Hello: _check_hello,
    Join: _check_room_field,
    Part: _check_room_field,
    Who: _check_room_field,
    SetTopic: _check_set_topic,
    GetHistory: _check_get_history,
}
