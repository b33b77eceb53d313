"""A chat log's lines as data: in order, each message once, at most so many.

Entries are kept sorted by their ``order``: messages by id, so they show in id order whatever
order they arrive in (live, replayed after a reconnection, paged in from the past); local lines
where their order puts them. A message id is held once: a message that arrives again is not
added again. Past :data:`MAX_ENTRIES` the oldest entries are dropped.

This is the model of :class:`~wirechat_client.widgets.chat_log.ChatLog`: it decides what the log
holds and which lines are news; the widget decides how they look and what the reader sees.
After every change the model tells its :class:`LogView` what changed, so that the widget lays
out only what it must. Nothing here loads Textual or Rich, so a conversation can be driven and
tested without a UI.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final, Protocol

from .lines import PENDING, LogEntry

#: Entries kept in memory. 5,000 lines is hours of a busy room (about 2.5 MiB drawn), well past
#: what anyone scrolls back through; older lines are dropped from the top.
MAX_ENTRIES: Final = 5000


def order_key(entry: LogEntry) -> tuple[int, int]:
    """Where ``entry`` goes in its log (the key to sort or bisect entries by)."""
    return entry.order


@dataclass(frozen=True, slots=True)
class Added:
    """What one :meth:`LogModel.add` did, as much as a view needs to lay out only that."""

    #: Index of the first new entry when every new entry went after those already there (by
    #: far the usual case: the view only appends rows); ``None`` when some went in between.
    start: int | None
    #: How many of the oldest entries were dropped to stay under the cap (they were the first).
    trimmed: int
    #: How many of the entries placed are news to a reader: from someone else, below all that
    #: was there (not older history put in above), and not our own line awaiting its ack.
    fresh: int


class LogView(Protocol):
    """What shows a :class:`LogModel`; told after each change, once the model holds it."""

    def entries_added(self, change: Added) -> None:
        """Entries were put in (and perhaps the oldest dropped)."""

    def entries_removed(self) -> None:
        """Entries were taken out."""

    def entry_moved(self, entry: LogEntry) -> None:
        """``entry`` moved to another place, and may look different."""

    def entry_changed(self, entry: LogEntry) -> None:
        """``entry`` looks different (its text, time or state changed) but kept its place."""

    def entries_cleared(self) -> None:
        """Every entry was taken out."""


class LogModel:
    """The entries of one log, sorted by ``order``, each message id once, at most
    ``max_entries``. :attr:`view`, if set, is told of every change."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self.max_entries = max_entries
        self.view: LogView | None = None  # set by the view this model is given to
        self._entries: list[LogEntry] = []  # sorted by order
        self._ids: dict[int, LogEntry] = {}

    # -- reading ----------------------------------------------------------------------------

    @property
    def entries(self) -> Sequence[LogEntry]:
        return self._entries

    @property
    def room_left(self) -> int:
        """Entries that can still be added before the oldest are dropped."""
        return max(0, self.max_entries - len(self._entries))

    def find(self, message_id: int) -> LogEntry | None:
        """The entry of message ``message_id``, if held."""
        return self._ids.get(message_id)

    def newest_id(self) -> int:
        """The highest message id held (0: none)."""
        return max(self._ids, default=0)

    def oldest_id(self) -> int | None:
        """The lowest message id held."""
        return next((entry.id for entry in self._entries if entry.id is not None), None)

    # -- writing ----------------------------------------------------------------------------

    def add(self, entries: Iterable[LogEntry]) -> list[LogEntry]:
        """Put entries in their place by ``order``, telling the view once for the batch; an
        entry whose message id is already held is skipped. Returns the entries placed (and
        not dropped at once by the cap)."""
        batch = list(entries)
        if len(batch) > self.max_entries:  # only the newest could survive: place no more
            batch = sorted(batch, key=order_key)[-self.max_entries :]
        if not batch:
            return []
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
                index = bisect.bisect_right(self._entries, entry.order, key=order_key)
                self._entries.insert(index, entry)
                first_changed = min(first_changed, index)
            placed.append(entry)
        if not placed:
            return []
        trimmed = self._trim()
        if self.view is not None:
            appended = first_changed == old_count and len(trimmed) <= old_count
            fresh = sum(
                1
                for entry in placed
                if not entry.own
                and (entry.order >= old_last or (entry.id or 0) > old_newest)
                and entry.order[0] < PENDING
            )
            start = old_count - len(trimmed) if appended else None
            self.view.entries_added(Added(start=start, trimmed=len(trimmed), fresh=fresh))
        gone = {id(entry) for entry in trimmed}
        return [entry for entry in placed if id(entry) not in gone]

    def discard(self, entries: Iterable[LogEntry]) -> None:
        """Take entries out of the log."""
        gone = {id(entry) for entry in entries}
        if not gone:
            return
        kept = [entry for entry in self._entries if id(entry) not in gone]
        if len(kept) == len(self._entries):
            return
        for entry in self._entries:
            if id(entry) in gone and entry.id is not None:
                self._ids.pop(entry.id, None)
        self._entries = kept
        if self.view is not None:
            self.view.entries_removed()

    def reposition(self, entry: LogEntry) -> None:
        """``entry``'s order or id changed (our line was acknowledged): move it if need be."""
        index = self._index_of(entry)
        if index is None:
            return
        if entry.id is not None:
            self._ids[entry.id] = entry
        entries = self._entries
        before_ok = index == 0 or entries[index - 1].order <= entry.order
        after_ok = index == len(entries) - 1 or entry.order <= entries[index + 1].order
        if before_ok and after_ok:
            self.changed(entry)
            return
        del entries[index]
        entries.insert(bisect.bisect_right(entries, entry.order, key=order_key), entry)
        if self.view is not None:
            self.view.entry_moved(entry)

    def changed(self, entry: LogEntry) -> None:
        """``entry`` changed in place (its text, say): the view draws it again."""
        if self.view is not None:
            self.view.entry_changed(entry)

    def forget_ids(self) -> None:
        """The server's ids started again (a restart without storage): the entries held keep
        their place but no longer stand for an id, so new messages are not taken for them."""
        for entry in self._entries:
            entry.id = None
        self._ids.clear()

    def clear(self) -> None:
        self._entries.clear()
        self._ids.clear()
        if self.view is not None:
            self.view.entries_cleared()

    # -- internals --------------------------------------------------------------------------

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
