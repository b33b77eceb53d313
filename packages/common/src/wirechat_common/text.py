"""The rules for message text: what may be sent, and how to show what arrives.

Text is refused when it contains anything that could act on a terminal or rearrange what readers
see, wherever it came from (JSON happily carries ``\\u001b``):

- C0 controls except tab (U+0000-U+0008, U+000A-U+001F): escape sequences start with ESC, and CR
  or LF would forge extra lines for plain-text readers;
- DEL and the C1 controls (U+007F-U+009F): U+009B is a one-character CSI on many terminals;
- line and paragraph separators (U+2028, U+2029): line breaks in disguise;
- bidirectional embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069): "Trojan
  Source" reordering (CVE-2021-42574).

Zero-width joiners stay allowed: emoji sequences and Indic and Persian scripts need them.
Text is also refused when empty or longer than :data:`MAX_TEXT_BYTES` bytes of UTF-8; it is
never truncated.
"""

from __future__ import annotations

import re
from typing import Final

from .errors import ErrorCode, ProtocolError
from .limits import MAX_TEXT_BYTES

#: One character class for everything :func:`check_text` refuses, so the check is a single
#: regex scan in C on the hot path.
FORBIDDEN_TEXT_RE: Final = re.compile(
    "[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)


def check_text(text: str, max_bytes: int = MAX_TEXT_BYTES) -> str:
    """Return ``text`` if it may be sent, else raise :class:`ProtocolError`.

    Codes: ``invalid_text`` (empty, or a forbidden character), ``text_too_long``.
    """
    if not text:
        raise ProtocolError(ErrorCode.INVALID_TEXT, "text is empty")
    # len(text) <= max_bytes // 4 proves the UTF-8 size is small enough without encoding.
    if len(text) > max_bytes // 4 and len(text.encode("utf-8", "surrogatepass")) > max_bytes:
        raise ProtocolError(
            ErrorCode.TEXT_TOO_LONG, f"text is longer than {max_bytes} bytes of UTF-8"
        )
    bad = FORBIDDEN_TEXT_RE.search(text)
    if bad is not None:
        raise ProtocolError(
            ErrorCode.INVALID_TEXT,
            f"text contains the control character U+{ord(bad.group()):04X}",
        )
    return text


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x20:
        return chr(0x2400 + code)  # the Control Pictures block: U+241B is a visible "ESC"
    if code == 0x7F:
        return "\u2421"
    return "\ufffd"


def sanitize_text(text: str) -> str:
    """Make untrusted text safe to print: each forbidden character becomes a visible stand-in.

    C0 controls become their Control Pictures (ESC shows as ``␛``), DEL as ``␡``, everything else
    refused by :func:`check_text` as U+FFFD. Clients use this on everything they display, even from
    a server they trust, and servers on text that has no right to refuse (like a name they echo).
    """
    return FORBIDDEN_TEXT_RE.sub(_visible, text)
