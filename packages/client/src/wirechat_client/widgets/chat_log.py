"""The chat log: a bounded, virtual, line-based view that stays put while you read.

Why not ``RichLog`` or ``Log``: ``RichLog`` renders every write through the console at once,
re-slices its whole line list on every write once it is full, never re-wraps on resize, and
scrolls to the end on write whatever the user is reading; ``Log`` holds plain strings only (no
per-nick colours). This widget (Textual's Line API, like ``Log``) keeps at most
:data:`MAX_ENTRIES` entries; a batch of lines is wrapped once and costs one layout update; only
the rows on screen are ever restyled; and it follows new lines only while the view is at the
bottom. Scrolled up, new lines bump an unread count (the screen shows it) and the view does not
move, even when old lines are dropped from the top. ``bench/client_log.py`` has the numbers.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import tzinfo
from itertools import islice
from typing import ClassVar, Final

from rich.style import Style
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from ..lines import DARK_PALETTE, LIGHT_PALETTE, LogEntry, Look, entry_height, render_entry

#: Entries kept in memory. 5,000 lines is hours of a busy room (about 2.5 MiB drawn), well past
#: what anyone scrolls back through; older lines are dropped from the top.
MAX_ENTRIES: Final = 5000


class ChatLog(ScrollView, can_focus=False):
    """The scrolling list of :class:`~wirechat_client.lines.LogEntry`.

    Not focusable: clicks and the wheel scroll it while the keyboard stays in the input.
    """

    # Behaviour, not looks (those are in app.tcss): a scrollbar that is always there keeps the
    # text width, and so the wrapping, from changing when the log first overflows.
    DEFAULT_CSS = """
    ChatLog {
        overflow-x: hidden;
        overflow-y: scroll;
    }
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "chat-log--time",
        "chat-log--bar",
        "chat-log--system",
        "chat-log--join",
        "chat-log--leave",
        "chat-log--error",
        "chat-log--own",
        "chat-log--mention",
        "chat-log--pending",
    }

    @dataclass
    class UnreadChanged(Message):
        """The number of lines that arrived while scrolled up changed."""

        log: ChatLog
        count: int

    def __init__(
        self,
        *,
        max_entries: int = MAX_ENTRIES,
        tz: tzinfo | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.max_entries = max_entries
        self.tz = tz
        self._entries: deque[LogEntry] = deque()
        self._rows: deque[tuple[LogEntry, int]] = deque()  # (entry, row within it)
        self._waiting: deque[LogEntry] = deque(maxlen=max_entries)  # before the width is known
        self._width = 0
        self._look: Look | None = None
        self._generation = 0  # bumped on restyle; entries drawn in an older one are redrawn
        self._follow = True
        self._moving = False  # we are moving the view ourselves, not the user
        self._unread = 0

    # -- reading ----------------------------------------------------------------------------

    @property
    def entries(self) -> Sequence[LogEntry]:
        return self._entries

    @property
    def unread(self) -> int:
        return self._unread

    @property
    def following(self) -> bool:
        """Whether new lines scroll into view (the view is at the bottom)."""
        return self._follow

    def lines_text(self) -> list[str]:
        """Every row as plain text (what a screen reader or a test sees)."""
        for entry in self._entries:
            if entry.generation != self._generation:
                self._draw(entry)
        return [entry.rows[row].text for entry, row in self._rows]

    # -- writing ----------------------------------------------------------------------------

    def append(self, entry: LogEntry) -> None:
        self.extend((entry,))

    def extend(self, entries: Iterable[LogEntry]) -> None:
        """Add entries at the bottom: drawn once, with one layout update for the batch."""
        if not self._width:
            self._waiting.extend(entries)
            return
        # Only the newest max_entries of a huge batch could survive: draw no more than those.
        batch = deque(entries, maxlen=self.max_entries)
        if not batch:
            return
        follow = self._follow
        for entry in batch:
            self._measure(entry)
            self._entries.append(entry)
            self._rows.extend((entry, row) for row in range(entry.height))
        removed = self._trim()
        self._resize_virtual()
        if follow:
            self._move_to(self.max_scroll_y)
        else:
            self._move_to(self.scroll_y - removed)
            self._set_unread(self._unread + sum(not entry.own for entry in batch))
        self.refresh()

    def redraw(self, entry: LogEntry) -> None:
        """Draw ``entry`` again after it changed (our line was acknowledged, say)."""
        if not self._width:
            return
        height = entry.height
        entry.generation = -1
        self._measure(entry)
        if entry.height != height:
            self._relayout()
        self.refresh()

    def clear(self) -> None:
        self._entries.clear()
        self._rows.clear()
        self._waiting.clear()
        self._resize_virtual()
        self._follow = True
        self._set_unread(0)
        self.refresh()

    def scroll_to_latest(self) -> None:
        self._move_to(self.max_scroll_y)
        self._follow = True
        self._set_unread(0)

    # -- Textual hooks ----------------------------------------------------------------------

    def on_resize(self) -> None:
        width = self.scrollable_content_region.width
        if width and width != self._width:
            self._width = width
            self._generation += 1  # every row was drawn for the old width
            self._relayout()
            if self._waiting:
                waiting = list(self._waiting)
                self._waiting.clear()
                self.extend(waiting)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        # Colours changed (theme switch): rows are redrawn lazily as they come into view.
        self._look = None
        self._generation += 1

    def render_line(self, y: int) -> Strip:
        index = self.scroll_offset.y + y
        width = self._width or self.scrollable_content_region.width
        if index >= len(self._rows):
            return Strip.blank(width, self.rich_style)
        entry, row = self._rows[index]
        if entry.generation != self._generation:
            self._draw(entry)
        rows = entry.rows
        return rows[row] if row < len(rows) else Strip.blank(width, self.rich_style)

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if self._moving:
            return
        self._follow = new_value >= self.max_scroll_y
        if self._follow:
            self._set_unread(0)

    # -- internals --------------------------------------------------------------------------

    def _current_look(self) -> Look:
        if self._look is None:
            fg, bg = self._foreground, self._background
            self._look = Look(
                console=self.app.console,
                base=self.rich_style,
                time=fg("chat-log--time"),
                bar=fg("chat-log--bar"),
                system=fg("chat-log--system"),
                join=fg("chat-log--join"),
                leave=fg("chat-log--leave"),
                error=fg("chat-log--error"),
                own=bg("chat-log--own"),
                mention=bg("chat-log--mention"),
                pending=fg("chat-log--pending"),
                palette=DARK_PALETTE if self.app.current_theme.dark else LIGHT_PALETTE,
                tz=self.tz,
            )
        return self._look

    # The full component style has its colours blended (``$text-muted`` is translucent); the
    # partial one keeps the text attributes. A part of a row takes only its colour, so that a
    # highlighted row's background shows through it.
    def _foreground(self, component: str) -> Style:
        full = self.get_component_rich_style(component)
        partial = self.get_component_rich_style(component, partial=True)
        return Style(color=full.color, bold=partial.bold, italic=partial.italic, dim=partial.dim)

    def _background(self, component: str) -> Style:
        return Style(bgcolor=self.get_component_rich_style(component).bgcolor)

    def _draw(self, entry: LogEntry) -> None:
        entry.rows = render_entry(entry, self._width, self._current_look())
        entry.generation = self._generation

    def _measure(self, entry: LogEntry) -> None:
        entry.height = entry_height(entry, self._width)

    def _trim(self) -> int:
        """Drop the oldest entries past the cap; return how many rows went."""
        removed = 0
        while len(self._entries) > self.max_entries:
            entry = self._entries.popleft()
            for _ in entry.rows:
                self._rows.popleft()
            removed += len(entry.rows)
        return removed

    def _relayout(self) -> None:
        """Wrap everything again at the current width, keeping the top line in view."""
        top = self._rows[self.scroll_offset.y][0] if self._rows and not self._follow else None
        self._rows.clear()
        new_top = 0
        for entry in self._entries:
            if entry is top:
                new_top = len(self._rows)
            self._measure(entry)
            self._rows.extend((entry, row) for row in range(entry.height))
        self._resize_virtual()
        self._move_to(self.max_scroll_y if self._follow else new_top)

    def _resize_virtual(self) -> None:
        self.virtual_size = Size(self._width, len(self._rows))

    def _move_to(self, y: float) -> None:
        self._moving = True
        try:
            # force: with overflow-y auto the scrollbar (and so scrolling) only turns on at
            # the next layout, after this batch; we know the size already.
            self.scroll_to(y=max(0, y), animate=False, immediate=True, force=True)
        finally:
            self._moving = False

    def _set_unread(self, count: int) -> None:
        if count != self._unread:
            self._unread = count
            self.post_message(self.UnreadChanged(self, count))

    def visible_entries(self) -> list[LogEntry]:
        """The entries with a row on screen, top to bottom."""
        start = self.scroll_offset.y
        seen: list[LogEntry] = []
        for entry, _ in islice(self._rows, start, start + self.size.height):
            if not seen or seen[-1] is not entry:
                seen.append(entry)
        return seen
