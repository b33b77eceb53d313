"""A block of several lines, typed with Ctrl+J or pasted: said as one message per line.

The protocol's text rules forbid newlines in a message (``wirechat_common.check_text``), so a
block travels as its lines, in order. Every line of a block is said as it stands: a pasted
``/etc/hosts`` or ``// comment`` is text, not a command, and blank lines are left out (the
protocol refuses empty text). Only a single line is read as a command (:func:`parse_line`).
"""

from __future__ import annotations

from wirechat_common import MAX_TEXT_BYTES, ProtocolError, check_text

from .commands import Invalid, Parsed, Send, parse_line


def split_lines(text: str) -> list[str]:
    """``text``'s lines, whichever newline convention a terminal or a clipboard used."""
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def parse_block(text: str, max_text_bytes: int = MAX_TEXT_BYTES) -> list[Parsed]:
    """What submitting ``text`` does: one parsed line, or a :class:`Send` per non-blank line of
    a block; a single :class:`Invalid` if any line of the block cannot be sent (then none is)."""
    lines = [line.rstrip() for line in split_lines(text)]
    lines = [line for line in lines if line.strip()]
    if len(lines) <= 1:
        parsed = parse_line(lines[0] if lines else "", max_text_bytes)
        return [] if parsed is None else [parsed]
    for number, line in enumerate(lines, 1):
        try:
            check_text(line, max_text_bytes)
        except ProtocolError as error:
            return [Invalid(f"not sent: line {number} of {len(lines)}: {error.detail}")]
    return [Send(line) for line in lines]
