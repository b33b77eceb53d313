"""The chat log's lines: what one line holds, and the words around it.

Everything a user or server typed goes through :func:`make_entry`, which passes it through
``sanitize_text``: no control character, escape sequence or bidi override survives to reach the
terminal. How a line is drawn is :mod:`wirechat_client.drawing`'s business; this module loads
neither Textual nor Rich, so the conversations' model can be used (and tested) without a UI.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from enum import Enum
from functools import lru_cache
from typing import TYPE_CHECKING, Final

from wirechat_common import sanitize_text

if TYPE_CHECKING:
    from textual.strip import Strip

_NOT_CONFIRMED: Final = "  (not confirmed: it may not have been delivered)"

#: How a line's time shows unless the settings file says otherwise (strftime).
DEFAULT_TIME_FORMAT: Final = "%H:%M"

#: The order key of our lines awaiting their ack: after everything, until the ack gives an id.
PENDING: Final = 2**62


class LineKind(Enum):
    MESSAGE = "message"
    ACTION = "action"
    JOIN = "join"
    LEAVE = "leave"
    INFO = "info"
    ERROR = "error"
    GAP = "gap"  # where the connection was lost
    MARKER = "marker"  # the read marker: what is under it arrived while you were away


@dataclass(slots=True, eq=False)
class LogEntry:
    """One logical line of the chat log. Build it with :func:`make_entry`.

    ``order`` places it in its log: a message is ``(id, 0)``, so messages show in id order
    whatever order they arrive in; a local line is placed after the newest message it follows,
    and our own line waits at the bottom (:data:`PENDING`) until its ack gives it an id.
    """

    kind: LineKind
    text: str
    nick: str = ""
    ts: int | None = None  # ms since the epoch; None while our own line awaits its ack
    own: bool = False
    mention: bool = False
    failed: bool = False  # our line did not go out (or may not have)
    failure: str = ""  # why, when the server said: shown instead of "not confirmed"
    id: int | None = None  # the server's message id
    order: tuple[int, int] = (0, 0)
    # The widget's drawing of the line, kept on it so that drawing a row costs no lookup;
    # nothing but the widget reads or writes these.
    rows: list[Strip] = field(default_factory=list)  # drawn at the log's current width
    height: int = 1  # rows at the log's current width
    generation: int = -1  # the log's generation the rows were drawn in; others are stale


#: What terminals draw at widths that disagree with Rich's (and with each other): variation
#: selectors (❤️ is two cells to Rich, one to tmux), skin tones (👋🏽: two to Rich, four to tmux)
#: and the joiner between emoji (👩‍💻: one glyph or two, depending on the terminal).
_UNSURE_WIDTH: Final = re.compile(
    "[\ufe0e\ufe0f\U0001f3fb-\U0001f3ff]"
    "|(?<=[\u2190-\u2bff\U0001f000-\U0001faff])\u200d"
    "|\u200d(?=[\u2190-\u2bff\U0001f000-\U0001faff])"
)


def terminal_safe(text: str) -> str:
    """``text`` without what would make the terminal draw it at another width than the one
    the layout counts (borders would move): each emoji then stands on its own, as wide
    everywhere. A joiner inside a word of another script (Devanagari's) stays."""
    return text if text.isascii() else _UNSURE_WIDTH.sub("", text)


def make_entry(
    kind: LineKind,
    text: str,
    *,
    nick: str = "",
    ts: int | None = None,
    own: bool = False,
    mention: bool = False,
    id: int | None = None,
    order: tuple[int, int] = (0, 0),
) -> LogEntry:
    """A log entry with every string made safe to show (and to measure)."""
    return LogEntry(
        kind,
        terminal_safe(sanitize_text(text)).expandtabs(4),
        nick=sanitize_text(nick),
        ts=ts,
        own=own,
        mention=mention,
        id=id,
        order=(id, 0) if id is not None else order,
    )


def failure_note(entry: LogEntry) -> str:
    """What is added after a line that did not go out."""
    if not entry.failed:
        return ""
    if entry.failure:
        return f"  (refused: {sanitize_text(entry.failure)})"
    return _NOT_CONFIRMED


@lru_cache(maxsize=64)
def _mention_pattern(name: str) -> re.Pattern[str]:
    # A name counts as a word when not glued to other name characters; a trailing "." is
    # allowed since "thanks alice." is a mention.
    return re.compile(rf"(?<![\w.\-]){re.escape(name)}(?![\w\-])", re.IGNORECASE)


def mentions(text: str, name: str, words: Sequence[str] = ()) -> bool:
    """Whether ``text`` mentions ``name``, or one of the highlight ``words``, as a word, in
    any case."""
    return any(word and _mention_pattern(word).search(text) is not None for word in (name, *words))


#: A web address. Sentence punctuation right after one is not part of it ("see https://x.org.").
_URL: Final = re.compile(r"\b(?:https?|ftp)://[^\s<>\"'`]+")
_URL_TAIL: Final = ".,;:!?'\")]}"


def find_urls(text: str) -> list[tuple[int, int]]:
    """Where web addresses are in ``text``: (start, end) pairs, to link them."""
    found = []
    for match in _URL.finditer(text):
        url = match.group()
        while url and url[-1] in _URL_TAIL:
            if url[-1] == ")" and url.count("(") >= url.count(")"):
                break  # a parenthesis of its own, as in wikipedia's addresses
            url = url[:-1]
        found.append((match.start(), match.start() + len(url)))
    return found


def format_time(ts: int, tz: tzinfo | None, pattern: str = DEFAULT_TIME_FORMAT) -> str:
    return datetime.fromtimestamp(ts / 1000, tz).strftime(pattern)


@lru_cache(maxsize=8)
def time_width(pattern: str) -> int:
    """Characters a time takes in ``pattern``: the width of the log's time column (measured
    on a time with two-digit fields everywhere)."""
    return len(datetime(2000, 12, 31, 23, 59, 59).strftime(pattern))
