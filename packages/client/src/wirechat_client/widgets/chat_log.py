"""The chat log: a virtual, line-based view of a log's lines that stays put while you read.

Why not ``RichLog`` or ``Log``: ``RichLog`` renders every write through the console at once,
re-slices its whole line list on every write once it is full, never re-wraps on resize, and
scrolls to the end on write whatever the user is reading; ``Log`` holds plain strings only (no
per-nick colours). This widget (Textual's Line API, like ``Log``) shows a
:class:`~wirechat_client.log_model.LogModel` it is given, which holds the lines (in order, each
message once, at most :data:`MAX_ENTRIES`); the model tells it what changed, so a batch of lines
is wrapped once and costs one layout update; only the rows on screen are ever restyled; and it
follows new lines only while the view is at the bottom. Scrolled up, new lines bump an unread
count (the screen shows it) and the view does not move, even when old lines are dropped from
the top or older history is put in above. ``bench/client_log.py`` has the numbers.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import tzinfo
from typing import ClassVar

from rich.style import Style
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from ..drawing import Look, entry_height, render_entry
from ..lines import DEFAULT_TIME_FORMAT, LogEntry
from ..log_model import MAX_ENTRIES, Added, LogModel
from ..nick_colors import NickColors

# MAX_ENTRIES is the cap of a log made here without a model: exported for the benchmark.
__all__ = ["MAX_ENTRIES", "ChatLog"]


class ChatLog(ScrollView, can_focus=False):
    """Shows ``model`` (a new, empty one if none is given), and is its view.

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
        "chat-log--marker",
        "chat-log--found",
    }

    @dataclass
    class UnreadChanged(Message):
        """The number of lines that arrived while scrolled up changed."""

        log: ChatLog
        count: int

    @dataclass
    class ReachedTop(Message):
        """The user scrolled to the top (or tried to scroll past it): time for older lines."""

        log: ChatLog

    def __init__(
        self,
        model: LogModel | None = None,
        *,
        tz: tzinfo | None = None,
        time_format: str = DEFAULT_TIME_FORMAT,
        nick_colors: NickColors | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes)
        self._model = model if model is not None else LogModel()
        self._model.view = self
        self.tz = tz
        self.time_format = time_format
        self.nick_colors = nick_colors or NickColors()
        self._rows: deque[tuple[LogEntry, int]] = deque()  # (entry, row within it)
        self._width = 0
        self._look: Look | None = None
        self._generation = 0  # bumped on restyle; entries drawn in an older one are redrawn
        self._follow = True
        self._moving = False  # we are moving the view ourselves, not the user
        self._unread = 0
        self._search = ""  # highlighted wherever it shows

    # -- reading ----------------------------------------------------------------------------

    @property
    def model(self) -> LogModel:
        """The lines shown."""
        return self._model

    @property
    def unread(self) -> int:
        return self._unread

    @property
    def following(self) -> bool:
        """Whether new lines scroll into view (the view is at the bottom)."""
        return self._follow

    def lines_text(self) -> list[str]:
        """Every row as plain text (what a screen reader or a test sees)."""
        for entry in self._model.entries:
            if entry.generation != self._generation:
                self._draw(entry)
        return [entry.rows[row].text for entry, row in self._rows]

    # -- writing: shorthands for a log used on its own (the benchmark) -----------------------

    def append(self, entry: LogEntry) -> None:
        self._model.add((entry,))

    def extend(self, entries: Iterable[LogEntry]) -> None:
        self._model.add(entries)

    # -- what the model tells (LogView) -----------------------------------------------------

    def entries_added(self, change: Added) -> None:
        """Lay out the new entries (only them, when they all went at the bottom) keeping the
        view where it was, and count those that are news if the reader is scrolled up."""
        anchor = self._anchor()
        if self._width:
            if change.start is not None:
                self._append_rows(change.start, change.trimmed, anchor is None)
            else:
                self._relayout(anchor)
        if not self._follow:
            self._set_unread(self._unread + change.fresh)
        self.refresh()

    def entries_removed(self) -> None:
        """Lay out again; the view stays on what it showed."""
        anchor = self._anchor()
        if self._width:
            self._relayout(anchor)
        self.refresh()

    def entry_moved(self, entry: LogEntry) -> None:
        anchor = self._anchor()
        entry.generation = -1
        if self._width:
            self._relayout(anchor)
        self.refresh()

    def entry_changed(self, entry: LogEntry) -> None:
        """Draw ``entry`` again after it changed (our line was acknowledged, say)."""
        if not self._width:
            return
        height = entry.height
        entry.generation = -1
        self._measure(entry)
        if entry.height != height:
            self._relayout(self._anchor())
        self.refresh()

    def entries_cleared(self) -> None:
        self._rows.clear()
        self._resize_virtual()
        self._follow = True
        self._set_unread(0)
        self.refresh()

    # -- the reader -------------------------------------------------------------------------

    def scroll_to_latest(self) -> None:
        self._move_to(self.max_scroll_y)
        self._follow = True
        self._set_unread(0)

    def highlight(self, text: str) -> None:
        """Highlight ``text`` wherever it shows (``""``: nowhere)."""
        if text != self._search:
            self._search = text
            self._look = None
            self._generation += 1
            self.refresh()

    def show_entry(self, entry: LogEntry) -> None:
        """Scroll ``entry`` into the middle of the view and stay there (new lines wait under
        the unread bar)."""
        row = next((i for i, (shown, _) in enumerate(self._rows) if shown is entry), None)
        if row is None:
            return
        self._move_to(row - self.scrollable_content_region.height // 2)
        # At the bottom anyway (a short log, a recent match): new lines still scroll in.
        self._follow = self.scroll_y >= self.max_scroll_y
        self.refresh()

    def reached_top(self) -> None:
        """Tell the screen the user wants what is above the top, if the view is there."""
        if self.scroll_y <= 0:
            self.post_message(self.ReachedTop(self))

    # -- Textual hooks ----------------------------------------------------------------------

    def on_resize(self) -> None:
        width = self.scrollable_content_region.width
        if width and width != self._width:
            first = not self._width
            self._width = width
            self._generation += 1  # every row was drawn for the old width
            self._relayout(None if first else self._anchor())

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
        if new_value <= 0 < old_value:
            self.post_message(self.ReachedTop(self))

    def on_mouse_scroll_up(self) -> None:
        self.reached_top()  # the wheel at the top: no scroll happens, but the wish is clear

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
                marker=fg("chat-log--marker"),
                found=self.get_component_rich_style("chat-log--found"),
                search=self._search,
                palette=self.nick_colors.palette(self.app.current_theme.dark),
                nick_slot=self.nick_colors.slot,
                tz=self.tz,
                time_format=self.time_format,
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
        entry.height = entry_height(entry, self._width, self.time_format)

    def _append_rows(self, start: int, removed: int, follow: bool) -> None:
        """The fast path: ``removed`` entries went from the top (their rows are the first
        ones) and the entries from ``start`` on are new at the bottom."""
        removed_rows = 0
        while removed and self._rows:
            entry, row = self._rows.popleft()
            removed_rows += 1
            if row == entry.height - 1:
                removed -= 1
        for entry in self._model.entries[start:]:
            self._measure(entry)
            self._rows.extend((entry, row) for row in range(entry.height))
        self._resize_virtual()
        if follow:
            self._move_to(self.max_scroll_y)
        else:
            self._move_to(self.scroll_y - removed_rows)

    def _anchor(self) -> tuple[LogEntry, int] | None:
        """What the view shows at its top (an entry and a row of it), or ``None`` while
        following the bottom."""
        if self._follow or not self._rows:
            return None
        top = min(self.scroll_offset.y, len(self._rows) - 1)
        return self._rows[top]

    def _relayout(self, anchor: tuple[LogEntry, int] | None) -> None:
        """Wrap everything again at the current width, keeping ``anchor`` at the top of the
        view (or, if it went, the entry that took its place)."""
        self._rows.clear()
        new_top = 0
        found = anchor is None
        for entry in self._model.entries:
            if not found and anchor is not None:
                if entry is anchor[0]:
                    new_top, found = len(self._rows) + anchor[1], True
                elif entry.order > anchor[0].order:
                    new_top, found = len(self._rows), True
            self._measure(entry)
            self._rows.extend((entry, row) for row in range(entry.height))
        if not found:
            new_top = len(self._rows)
        self._resize_virtual()
        self._move_to(self.max_scroll_y if anchor is None else new_top)

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
