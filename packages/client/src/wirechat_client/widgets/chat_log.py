"""The chat log: a bounded, virtual, line-based view that stays put while you read.

Why not ``RichLog`` or ``Log``: ``RichLog`` renders every write through the console at once,
re-slices its whole line list on every write once it is full, never re-wraps on resize, and
scrolls to the end on write whatever the user is reading; ``Log`` holds plain strings only (no
per-nick colours). This widget (Textual's Line API, like ``Log``) keeps at most
:data:`MAX_ENTRIES` entries, sorted by their ``order`` (message ids), each message id once; a
batch of lines is wrapped once and costs one layout update; only the rows on screen are ever
restyled; and it follows new lines only while the view is at the bottom. Scrolled up, new lines
bump an unread count (the screen shows it) and the view does not move, even when old lines are
dropped from the top or older history is put in above. ``bench/client_log.py`` has the numbers.
"""

from __future__ import annotations

import bisect
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

from ..lines import (
    DARK_PALETTE,
    LIGHT_PALETTE,
    PENDING,
    LogEntry,
    Look,
    entry_height,
    render_entry,
)

#: Entries kept in memory. 5,000 lines is hours of a busy room (about 2.5 MiB drawn), well past
#: what anyone scrolls back through; older lines are dropped from the top.
MAX_ENTRIES: Final = 5000


def _order(entry: LogEntry) -> tuple[int, int]:
    return entry.order


class ChatLog(ScrollView, can_focus=False):
    """The scrolling list of :class:`~wirechat_client.lines.LogEntry`, in ``order``.

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

    @dataclass
    class ReachedTop(Message):
        """The user scrolled to the top (or tried to scroll past it): time for older lines."""

        log: ChatLog

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
        self._entries: list[LogEntry] = []  # sorted by order
        self._ids: dict[int, LogEntry] = {}
        self._rows: deque[tuple[LogEntry, int]] = deque()  # (entry, row within it)
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

    @property
    def room_left(self) -> int:
        """Entries that can still be added before the oldest are dropped."""
        return max(0, self.max_entries - len(self._entries))

    def find(self, message_id: int) -> LogEntry | None:
        """The entry of message ``message_id``, if shown."""
        return self._ids.get(message_id)

    def newest_id(self) -> int:
        """The highest message id shown (0: none)."""
        return max(self._ids, default=0)

    def oldest_id(self) -> int | None:
        """The lowest message id shown."""
        return next((entry.id for entry in self._entries if entry.id is not None), None)

    def lines_text(self) -> list[str]:
        """Every row as plain text (what a screen reader or a test sees)."""
        for entry in self._entries:
            if entry.generation != self._generation:
                self._draw(entry)
        return [entry.rows[row].text for entry, row in self._rows]

    # -- writing ----------------------------------------------------------------------------

    def append(self, entry: LogEntry) -> None:
        self.add((entry,))

    def extend(self, entries: Iterable[LogEntry]) -> None:
        self.add(entries)

    def add(self, entries: Iterable[LogEntry]) -> list[LogEntry]:
        """Put entries in their place by ``order``, with one layout update for the batch; an
        entry whose message id is already shown is skipped. Returns the entries placed."""
        batch = list(entries)
        if len(batch) > self.max_entries:  # only the newest could survive: measure no more
            batch = sorted(batch, key=_order)[-self.max_entries :]
        if not batch:
            return []
        anchor = self._anchor()
        old_count = len(self._entries)
        old_last = self._entries[-1].order if self._entries else (-1, 0)
        old_newest = self.newest_id()
        first_changed = old_count
        placed: list[LogEntry] = []
        for entry in batch:
            if entry.id is not None:
                if entry.id in self._ids:
                    continue
                self._ids[entry.id] = entry
            if not self._entries or entry.order >= self._entries[-1].order:
                self._entries.append(entry)
            else:
                index = bisect.bisect_right(self._entries, entry.order, key=_order)
                self._entries.insert(index, entry)
                first_changed = min(first_changed, index)
            placed.append(entry)
        if not placed:
            return []
        trimmed = self._trim()
        removed = len(trimmed)
        if self._width:
            if first_changed >= old_count and not (removed and first_changed < removed):
                self._append_rows(first_changed - removed, removed, anchor is None)
            else:
                self._relayout(anchor)
        if not self._follow:
            fresh = [
                entry
                for entry in placed
                if not entry.own
                and (entry.order >= old_last or (entry.id or 0) > old_newest)
                and entry.order[0] < PENDING
            ]
            self._set_unread(self._unread + len(fresh))
        self.refresh()
        gone = {id(entry) for entry in trimmed}
        return [entry for entry in placed if id(entry) not in gone]

    def discard(self, entries: Iterable[LogEntry]) -> None:
        """Take entries out of the log (the view stays on what it showed)."""
        gone = {id(entry) for entry in entries}
        if not gone:
            return
        anchor = self._anchor()
        kept = [entry for entry in self._entries if id(entry) not in gone]
        if len(kept) == len(self._entries):
            return
        for entry in self._entries:
            if id(entry) in gone and entry.id is not None:
                self._ids.pop(entry.id, None)
        self._entries = kept
        if self._width:
            self._relayout(anchor)
        self.refresh()

    def reposition(self, entry: LogEntry) -> None:
        """``entry``'s order or id changed (our line was acknowledged): move it if need be,
        and draw it again."""
        index = self._index_of(entry)
        if index is None:
            return
        if entry.id is not None:
            self._ids[entry.id] = entry
        entries = self._entries
        before_ok = index == 0 or entries[index - 1].order <= entry.order
        after_ok = index == len(entries) - 1 or entry.order <= entries[index + 1].order
        if before_ok and after_ok:
            self.redraw(entry)
            return
        anchor = self._anchor()
        del entries[index]
        entries.insert(bisect.bisect_right(entries, entry.order, key=_order), entry)
        entry.generation = -1
        if self._width:
            self._relayout(anchor)
        self.refresh()

    def redraw(self, entry: LogEntry) -> None:
        """Draw ``entry`` again after it changed (our line was acknowledged, say)."""
        if not self._width:
            return
        height = entry.height
        entry.generation = -1
        self._measure(entry)
        if entry.height != height:
            self._relayout(self._anchor())
        self.refresh()

    def forget_ids(self) -> None:
        """The server's ids started again (a restart without storage): the entries shown keep
        their place but no longer stand for an id, so new messages are not taken for them."""
        for entry in self._entries:
            entry.id = None
        self._ids.clear()

    def clear(self) -> None:
        self._entries.clear()
        self._ids.clear()
        self._rows.clear()
        self._resize_virtual()
        self._follow = True
        self._set_unread(0)
        self.refresh()

    def scroll_to_latest(self) -> None:
        self._move_to(self.max_scroll_y)
        self._follow = True
        self._set_unread(0)

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

    def _index_of(self, entry: LogEntry) -> int | None:
        for index in range(len(self._entries) - 1, -1, -1):  # usually near the bottom
            if self._entries[index] is entry:
                return index
        return None

    def _trim(self) -> list[LogEntry]:
        """Drop the oldest entries past the cap; return them."""
        excess = len(self._entries) - self.max_entries
        if excess <= 0:
            return []
        dropped = self._entries[:excess]
        for entry in dropped:
            if entry.id is not None:
                self._ids.pop(entry.id, None)
        del self._entries[:excess]
        return dropped

    def _append_rows(self, start: int, removed: int, follow: bool) -> None:
        """The fast path: ``removed`` entries went from the top (their rows are the first
        ones) and the entries from ``start`` on are new at the bottom."""
        removed_rows = 0
        while removed and self._rows:
            entry, row = self._rows.popleft()
            removed_rows += 1
            if row == entry.height - 1:
                removed -= 1
        for entry in self._entries[start:]:
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
        for entry in self._entries:
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

    def visible_entries(self) -> list[LogEntry]:
        """The entries with a row on screen, top to bottom."""
        start = self.scroll_offset.y
        seen: list[LogEntry] = []
        for entry, _ in islice(self._rows, start, start + self.size.height):
            if not seen or seen[-1] is not entry:
                seen.append(entry)
        return seen
