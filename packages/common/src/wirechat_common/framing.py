"""Splitting a byte stream into ``\\n``-terminated lines, with a hard cap on line length.

This is the layer under the JSON codec, and also all a plain-text (telnet or netcat) peer needs.
It follows h11's receive buffer: bytes go in with :meth:`LineFramer.receive_data`, complete lines
come out one at a time from :meth:`LineFramer.next_line`, so a caller can stop pulling (to apply
a rate limit, say) and leave the rest buffered. The newline search resumes where the last one
stopped, so a frame trickling in byte by byte costs linear time, not quadratic.
"""

from __future__ import annotations

from typing import Final

from .errors import ErrorCode, ProtocolError

_NEWLINE: Final = b"\n"
_CARRIAGE_RETURN: Final = 13
#: The buffer of a framer with nothing buffered: one shared empty ``bytes``. A server holds a
#: framer per connection, mostly idle, and even an empty ``bytearray`` costs 56 bytes.
_EMPTY: Final = b""


class LineFramer:
    """Cuts a byte stream into lines of at most ``max_line_bytes`` (terminator excluded).

    A line ends with ``\\n``; a ``\\r`` right before it is dropped too. Once more than
    ``max_line_bytes`` (+1 for a possible ``\\r``) arrive with no newline, or a longer line
    completes, :meth:`next_line` raises a fatal ``frame_too_large`` :class:`ProtocolError` and keeps
    raising it: after an oversized line nobody knows where the next one starts, so the framer
    never skips ahead and resynchronises.
    """

    __slots__ = ("_broken", "_buffer", "_max_line_bytes", "_scan_from", "_start")

    def __init__(self, max_line_bytes: int) -> None:
        if max_line_bytes < 1:
            raise ValueError("max_line_bytes must be positive")
        self._max_line_bytes = max_line_bytes
        self._buffer: bytearray | bytes = _EMPTY
        self._start = 0  # the first byte not yet returned as part of a line
        self._scan_from = 0  # the newline search resumes here: bytes before it hold none
        self._broken: ProtocolError | None = None

    @property
    def max_line_bytes(self) -> int:
        """The longest line accepted, terminator excluded."""
        return self._max_line_bytes

    @property
    def buffered(self) -> int:
        """Bytes received but not yet returned in a line."""
        return len(self._buffer) - self._start

    def complete_lines(self) -> int:
        """How many complete lines are buffered and waiting for :meth:`next_line`."""
        return self._buffer.count(_NEWLINE, self._start)

    def receive_data(self, data: bytes) -> None:
        """Append ``data`` to the stream."""
        if self._broken is not None:
            return
        if self._buffer:
            self._buffer += data  # a bytearray, extended in place
        else:
            self._buffer = bytearray(data)

    def next_line(self) -> bytes | None:
        """The next complete line, without its terminator, or ``None`` until more data arrives."""
        if self._broken is not None:
            # A fresh exception each time: re-raising one object would grow its traceback.
            raise ProtocolError(self._broken.code, self._broken.detail, fatal=True)
        buffer = self._buffer
        newline = buffer.find(_NEWLINE, self._scan_from)
        if newline < 0:
            # +1: the line may still end in "\r\n", and the "\r" does not count.
            if len(buffer) - self._start > self._max_line_bytes + 1:
                raise self._fail(f"no newline within {self._max_line_bytes} bytes")
            self._scan_from = len(buffer)
            self._compact()
            return None
        end = newline
        if end > self._start and buffer[end - 1] == _CARRIAGE_RETURN:
            end -= 1
        line = bytes(buffer[self._start : end])
        self._start = self._scan_from = newline + 1
        if len(line) > self._max_line_bytes:
            raise self._fail(f"line is longer than {self._max_line_bytes} bytes")
        return line

    def take_rest(self) -> bytes:
        """Remove and return the bytes of the incomplete line buffered so far.

        For peers that do not terminate their last line: a plain-text client that sends its name
        with no newline, or a stream that ends without one.
        """
        if self._broken is not None or self.complete_lines():
            return b""
        rest = bytes(self._buffer[self._start :])
        self._buffer = _EMPTY
        self._start = self._scan_from = 0
        return rest

    def _compact(self) -> None:
        # Drop consumed bytes only when the buffer runs dry of lines, so a burst of many small
        # lines costs one memmove, not one per line.
        if self._start == len(self._buffer):
            # All consumed (the usual case between frames): back to the shared empty buffer,
            # where an emptied bytearray would keep its capacity. Idle connections add up.
            self._buffer = _EMPTY
            self._start = self._scan_from = 0
        elif self._start:
            buffer = self._buffer
            assert isinstance(buffer, bytearray)  # only the empty buffer is a bytes
            del buffer[: self._start]
            self._scan_from -= self._start
            self._start = 0

    def _fail(self, detail: str) -> ProtocolError:
        self._broken = ProtocolError(ErrorCode.FRAME_TOO_LARGE, detail, fatal=True)
        self._buffer = _EMPTY
        self._start = self._scan_from = 0
        return self._broken
