"""Framing and (de)serialisation: messages to bytes and bytes to messages, with no I/O.

A frame is one JSON object encoded as UTF-8 and terminated by ``\\n`` (a ``\\r`` before the
``\\n`` is tolerated, blank lines are skipped). :func:`encode` turns a message into a frame;
:class:`Decoder` turns a byte stream, fed in chunks of any size, back into messages.

The decoder is built to face hostile input. It buffers at most ``max_frame_bytes`` (plus the
terminator) of an incomplete frame and fails the moment more arrives; it never skips ahead to
the next newline, because after an oversized frame nobody knows where the next one starts. Every
failure is a :class:`ProtocolError` with a code: msgspec's own surprises (``UnicodeDecodeError``
for invalid UTF-8, ``RecursionError`` for deep nesting, silently accepted duplicate keys) are
caught and translated here.
"""

from __future__ import annotations

import json
from typing import Any, Final

import msgspec

from .errors import ErrorCode, ProtocolError
from .limits import MAX_FRAME_BYTES, MAX_TEXT_BYTES
from .messages import MESSAGE_TYPES, AnyMessage, Hello, Say
from .names import check_name
from .text import check_text

_encoder: Final = msgspec.json.Encoder()
_NEWLINE: Final = 10
_CARRIAGE_RETURN: Final = 13


def encode(message: AnyMessage) -> bytes:
    """Encode ``message`` as one frame: compact JSON and a terminating ``\\n``."""
    return _encoder.encode(message) + b"\n"


class _TypeOnly(msgspec.Struct):
    type: str


def _quoted_keys(cls: type[AnyMessage]) -> tuple[bytes, ...]:
    return tuple(f'"{name}"'.encode() for name in ("type", *cls.__struct_fields__))


# Keys as they appear in a frame, per message type, for the duplicate-key screen.
_KEYS: Final = {cls: _quoted_keys(cls) for cls in MESSAGE_TYPES.values()}


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        duplicated = sorted({key for key in keys if keys.count(key) > 1})
        raise ProtocolError(ErrorCode.BAD_JSON, f"duplicate key {duplicated[0]!r}")
    return dict(pairs)


def _check_duplicate_keys(frame: bytes, cls: type[AnyMessage]) -> None:
    """Refuse a frame that names one of its message's fields twice.

    msgspec keeps the last value of a duplicated key, and other parsers keep the first, so a frame
    with duplicates means different things to different readers: a classic smuggling trick. An
    unescaped ``"key"`` can only appear in a frame as a key or as a whole string value, so counting
    them is an exact screen for the common case; only a frame that passes the count for a key more
    than once is parsed again, slowly, to tell.
    """
    for quoted in _KEYS[cls]:
        if frame.count(quoted) > 1:
            try:
                json.loads(frame, object_pairs_hook=_reject_duplicate_keys)
            except RecursionError:
                raise ProtocolError(ErrorCode.BAD_JSON, "frame nests too deeply") from None
            return


class Decoder:
    """Turns a byte stream into messages, one ``\\n``-terminated JSON frame at a time.

    ``types`` is the union of message types this end accepts (a server passes
    :data:`~wirechat_common.messages.ClientMessage`); any other ``type`` is ``unknown_type``.
    ``max_text_bytes`` bounds the text of a ``say``. The text of ``say`` and the name of ``hello``
    are checked against the text and name rules while decoding, so a decoded message is valid.

    :meth:`feed` raises :class:`ProtocolError` for the first bad frame. The messages decoded before
    it in the same call travel with the exception as ``error.messages``. Unless ``error.fatal``,
    the bad frame has been consumed and the decoder carries on: call ``feed(b"")`` to decode what
    followed it. After a fatal error the decoder only raises the same error again.
    """

    __slots__ = (
        "_broken",
        "_buffer",
        "_decoder",
        "_max_frame_bytes",
        "_max_text_bytes",
        "_scan_from",
        "_tags",
    )

    def __init__(
        self,
        max_frame_bytes: int = MAX_FRAME_BYTES,
        *,
        max_text_bytes: int = MAX_TEXT_BYTES,
        types: Any = AnyMessage,
    ) -> None:
        if max_frame_bytes < 1:
            raise ValueError("max_frame_bytes must be positive")
        self._max_frame_bytes = max_frame_bytes
        self._max_text_bytes = max_text_bytes
        self._decoder: msgspec.json.Decoder[AnyMessage] = msgspec.json.Decoder(types)
        members = getattr(types, "__args__", (types,))
        self._tags = frozenset(cls.__struct_config__.tag for cls in members)
        self._buffer = bytearray()
        self._scan_from = 0  # where the newline search resumes: bytes before it hold none
        self._broken: ProtocolError | None = None

    @property
    def buffered(self) -> int:
        """Bytes received but not yet decoded (part of an incomplete frame)."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[AnyMessage]:
        """Add ``data`` to the stream and return every message it completes, in order."""
        if self._broken is not None:
            raise self._broken
        buffer = self._buffer
        buffer += data
        messages: list[AnyMessage] = []
        start = 0
        try:
            while True:
                newline = buffer.find(b"\n", self._scan_from)
                if newline < 0:
                    # +1: the frame may still end in "\r\n", and the "\r" does not count.
                    if len(buffer) - start > self._max_frame_bytes + 1:
                        raise self._fail(
                            ProtocolError(
                                ErrorCode.FRAME_TOO_LARGE,
                                f"no newline within {self._max_frame_bytes} bytes",
                                fatal=True,
                            )
                        )
                    self._scan_from = len(buffer)
                    break
                end = newline
                if end > start and buffer[end - 1] == _CARRIAGE_RETURN:
                    end -= 1
                frame = bytes(buffer[start:end])
                start = self._scan_from = newline + 1
                if len(frame) > self._max_frame_bytes:
                    raise self._fail(
                        ProtocolError(
                            ErrorCode.FRAME_TOO_LARGE,
                            f"frame is longer than {self._max_frame_bytes} bytes",
                            fatal=True,
                        )
                    )
                if frame and not frame.isspace():
                    messages.append(self._decode_frame(frame))
        except ProtocolError as error:
            error.messages = messages
            raise
        finally:
            if start:
                del buffer[:start]
                self._scan_from -= start
        return messages

    def _fail(self, error: ProtocolError) -> ProtocolError:
        self._broken = error
        self._buffer.clear()
        self._scan_from = 0
        return error

    def _decode_frame(self, frame: bytes) -> AnyMessage:
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
        if cls is Say:
            check_text(message.text, self._max_text_bytes)  # type: ignore[union-attr]
        elif cls is Hello:
            check_name(message.name)  # type: ignore[union-attr]
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
