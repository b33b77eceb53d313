"""How a chat log line is drawn into terminal rows, and the colours of nicks.

Lines are drawn as Rich :class:`~rich.text.Text` built from plain strings, never from markup, so
``[bold]`` or ``[link=...]`` typed by someone shows exactly as typed.

A line is laid out WeeChat-style: the time, the nick right-aligned in a fixed column, a bar, and
the text wrapped beside the bar so that wrapped rows keep the column clean::

    12:04        alice │ hello there, this is a long line that wraps
                       │ onto the next row
    12:05          --> │ bob joined
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import tzinfo
from typing import Final

from rich._wrap import divide_line  # Text.wrap's line breaking, to count rows without drawing
from rich.cells import cell_len
from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.strip import Strip

from .lines import (
    DEFAULT_TIME_FORMAT,
    LineKind,
    LogEntry,
    failure_note,
    find_urls,
    format_time,
    time_width,
)
from .nick_colors import DARK_PALETTE, hashed_slot

_BAR: Final = " │ "
_PLAIN: Final = Style()

_WIDE_NICK: Final = 12  # cells for the nick column, as WeeChat's usual prefix_align_max
_NARROW_NICK: Final = 8
# Log widths under _NARROW_BELOW get the narrow nick column (80 columns with the user list
# leave the log 59: still wide), and under _NO_TIME_BELOW no time column at all.
_NARROW_BELOW: Final = 56
_NO_TIME_BELOW: Final = 36


_MARKERS: Final = {
    LineKind.JOIN: "-->",
    LineKind.LEAVE: "<--",
    LineKind.INFO: "--",
    LineKind.ERROR: "!!",
    LineKind.ACTION: "*",
    LineKind.GAP: "~~",
}


@dataclass(frozen=True, slots=True)
class Look:
    """Everything drawing needs besides the line: styles from the stylesheet, the palette of
    the current theme, and the time zone for timestamps (fixed in tests)."""

    console: Console
    base: Style
    time: Style
    bar: Style
    system: Style
    join: Style
    leave: Style
    error: Style
    own: Style
    mention: Style
    pending: Style
    marker: Style = _PLAIN  # a default for looks made before the read marker existed
    found: Style = _PLAIN  # what a search found
    search: str = ""  # the text searched for, highlighted wherever it shows
    palette: tuple[str, ...] = DARK_PALETTE
    nick_slot: Callable[[str], int] = hashed_slot  # a NickColors' slot, in the app
    tz: tzinfo | None = None
    time_format: str = DEFAULT_TIME_FORMAT


def _nick_color(nick: str, look: Look) -> str:
    return look.palette[look.nick_slot(nick) % len(look.palette)]


def _prefix(entry: LogEntry, look: Look, nick_width: int, with_time: bool) -> Text:
    prefix = Text(end="")
    if with_time:
        width = time_width(look.time_format)
        if entry.ts is None and not entry.own:
            prefix.append(" " * width)  # a line about the log itself: no time
        elif entry.ts is None:
            prefix.append(("--:--" if entry.failed else "··:··").ljust(width), look.pending)
        else:
            prefix.append(format_time(entry.ts, look.tz, look.time_format), look.time)
        prefix.append(" ")
    marker = _MARKERS.get(entry.kind)
    if marker is not None:
        style = {
            LineKind.JOIN: look.join,
            LineKind.LEAVE: look.leave,
            LineKind.ERROR: look.error,
            LineKind.GAP: look.leave,
        }
        label, label_style = marker, style.get(entry.kind, look.system)
    else:
        label = entry.nick if len(entry.nick) <= nick_width else entry.nick[: nick_width - 1] + "…"
        label_style = Style(color=_nick_color(entry.nick, look), bold=entry.own)
    prefix.append(label.rjust(nick_width), label_style)
    prefix.append(_BAR, look.bar)
    return prefix


def _body(entry: LogEntry, look: Look) -> Text:
    kind = entry.kind
    body = Text(end="")
    if kind in (LineKind.ACTION, LineKind.JOIN, LineKind.LEAVE) and entry.nick:
        body.append(entry.nick, Style(color=_nick_color(entry.nick, look), bold=True))
        body.append(" ")
    text_style = {
        LineKind.ERROR: look.error,
        LineKind.INFO: look.system,
        LineKind.GAP: look.leave,
    }.get(kind)
    if kind in (LineKind.JOIN, LineKind.LEAVE):
        text_style = look.system
    start = len(body)
    body.append(entry.text, text_style)
    link(body, entry.text, start)
    if look.search and kind in (LineKind.MESSAGE, LineKind.ACTION):
        body.highlight_words([look.search], look.found, case_sensitive=False)
    if entry.failed:
        body.append(failure_note(entry), look.error if entry.failure else look.pending)
    return body


def link(text: Text, plain: str, start: int = 0) -> None:
    """Make the web addresses in ``plain`` (at ``start`` in ``text``) links the terminal can
    open (OSC 8): a wrapped or cut address still opens whole."""
    for begin, end in find_urls(plain):
        text.stylize(Style(link=plain[begin:end]), start + begin, start + end)


def _columns(width: int, time_format: str) -> tuple[bool, int, int]:
    """(whether the time shows, the nick column's width, the text column's width)."""
    with_time = width >= _NO_TIME_BELOW
    nick_width = _WIDE_NICK if width >= _NARROW_BELOW else _NARROW_NICK
    prefix_width = (time_width(time_format) + 1 if with_time else 0) + nick_width + len(_BAR)
    return with_time, nick_width, max(8, width - prefix_width)


def _body_plain(entry: LogEntry) -> str:
    """The text :func:`_body` draws, without styles."""
    text = entry.text
    if entry.kind in (LineKind.ACTION, LineKind.JOIN, LineKind.LEAVE) and entry.nick:
        text = f"{entry.nick} {text}"
    return text + failure_note(entry)


def entry_height(entry: LogEntry, width: int, time_format: str = DEFAULT_TIME_FORMAT) -> int:
    """How many rows :func:`render_entry` draws for ``entry`` at ``width``, without drawing it.

    Measuring is several times cheaper than drawing, so a burst or a resize only measures, and
    lines are drawn when they scroll into view. The count is Rich's own line breaking (the same
    function ``Text.wrap`` uses); a test holds the two together.
    """
    plain = _body_plain(entry)
    text_width = _columns(width, time_format)[2]
    if cell_len(plain) <= text_width:
        return 1  # most chat lines: no need to look for break points
    return len(divide_line(plain, text_width, fold=True)) + 1


def render_entry(entry: LogEntry, width: int, look: Look) -> list[Strip]:
    """Draw ``entry`` as rows exactly ``width`` cells wide (at least one row)."""
    if entry.kind is LineKind.MARKER:  # a rule across the log, as WeeChat's read marker
        return [Strip([Segment("─" * width, look.base + look.marker)], width)]
    with_time, nick_width, text_width = _columns(width, look.time_format)
    prefix = _prefix(entry, look, nick_width, with_time)
    indent = Text(" " * (prefix.cell_len - len(_BAR)) + _BAR, look.bar, end="")
    row_style = look.base
    if entry.mention:
        row_style += look.mention
    elif entry.own:
        row_style += look.own
    # "fold" breaks words longer than the column (a URL) instead of letting them overflow.
    wrapped = _body(entry, look).wrap(look.console, text_width, overflow="fold")
    rows: list[Strip] = []
    for index, line in enumerate(wrapped or [Text(end="")]):
        line.end = ""
        row = Text.assemble(prefix if index == 0 else indent, line, end="")
        strip = Strip(row.render(look.console)).adjust_cell_length(width, row_style)
        rows.append(strip.apply_style(row_style).crop(0, width))
    return rows
