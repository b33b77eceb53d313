"""One conversation (a room, or the direct messages with one person): its log, who is in it,
its topic, what arrived while it was not shown, and how far back its history is loaded.

Messages are placed in the log by id, whatever order they arrive in (live, replayed after a
reconnection, or paged in from the past), and each id shows once. Local lines (notes, joins,
the gap marker) sit after the newest message shown when they were added.

A server without storage starts its ids again when it restarts. A live message (or an ack)
whose id is already shown, or lower than the newest message from someone else, can only mean
that: the log then forgets the old ids and places the new ones after everything it holds.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime, tzinfo
from enum import Enum
from typing import Final

from wirechat_common import GetHistory, Message, name_key, sanitize_text

from .lines import (
    DEFAULT_TIME_FORMAT,
    PENDING,
    LineKind,
    LogEntry,
    format_time,
    make_entry,
    mentions,
)
from .log_model import LogModel, order_key
from .presence import Presence

#: Messages asked for per page of older history (fewer if the server allows fewer).
HISTORY_PAGE: Final = 50

#: Order keys of the lines above all history.
_BEGINNING: Final = (-1, 0)
_LOADING: Final = (-1, 1)

#: The kinds of line that are messages (the others are local, or about presence).
_SAID: Final = (LineKind.MESSAGE, LineKind.ACTION)


class Kind(Enum):
    ROOM = "room"
    DIRECT = "direct"
    HOME = "home"  # shown when there is no other: not in any room, no direct messages


def message_entry(message: Message, me: str, highlights: Sequence[str] = ()) -> LogEntry:
    """The log line of ``message`` as ``me`` sees it (``highlights``: words that count as a
    mention of ``me``)."""
    own = name_key(message.sender) == name_key(me)
    return make_entry(
        LineKind.ACTION if message.action else LineKind.MESSAGE,
        message.text,
        nick=message.sender,
        ts=message.ts,
        own=own,
        mention=not own and mentions(message.text, me, highlights),
        id=message.id,
    )


def _message_at(entries: Sequence[LogEntry], index: int, step: int) -> LogEntry | None:
    """The first message from ``index`` on, going ``step`` (local lines are skipped; a
    message whose id was forgotten when the server's ids restarted still counts)."""
    while 0 <= index < len(entries):
        entry = entries[index]
        if entry.id is not None or (entry.kind in _SAID and entry.ts is not None):
            return entries[index]
        index += step
    return None


class Conversation:
    """The state of one conversation. Its :attr:`log` holds its lines (a ``ChatLog`` widget
    shows them); ``tz`` is the time zone its times and days are told in."""

    def __init__(
        self,
        key: str,
        name: str,
        kind: Kind,
        now: Callable[[], int],
        tz: tzinfo | None = None,
        time_format: str = DEFAULT_TIME_FORMAT,
        smart_filter_ms: int = 0,
    ) -> None:
        self.key = key
        self.name = sanitize_text(name)
        self.kind = kind
        self.log = LogModel()
        self.tz = tz
        self.time_format = time_format
        self._now = now
        self.topic = ""
        self.joined = kind is not Kind.ROOM  # a room: whether we are in it right now
        self.unread = 0  # messages that arrived while another conversation was shown
        self.mentioned = False  # ... and whether one of them was for us
        self.more_older: bool | None = None  # None: not known yet
        self.rejoined = False  # back in it after a reconnection: its next page may be news
        self._users: dict[str, str] = {}  # name_key -> name
        self.users_version = 0
        self._sequence = itertools.count(1)
        self.presence = Presence(self.log, self.local_order, smart_filter_ms)
        self._loading: LogEntry | None = None
        self._beginning: LogEntry | None = None
        self._gap: LogEntry | None = None
        self._gap_text = ""
        self._day_lines: dict[int, LogEntry] = {}  # message id -> its "day changed" line
        self._marker: LogEntry | None = None  # the read marker, once there is news under it
        self._reading = False  # shown, in a focused terminal
        self._away = False  # read before, and not since: the next news moves the marker
        self._base = 0  # added to ids to order them: above the old ones after an id restart
        # Lines refused while ours were waiting for their ack stay right under the one they
        # followed, wherever its ack puts it.
        self._followers: dict[LogEntry, list[LogEntry]] = {}

    @property
    def target(self) -> str:
        """What ``get_history`` calls this conversation."""
        return self.name if self.kind is Kind.ROOM else f"@{self.name}"

    @property
    def loading(self) -> bool:
        return self._loading is not None

    @property
    def reading(self) -> bool:
        """Whether the user can see this conversation now (shown, in a focused terminal)."""
        return self._reading

    @reading.setter
    def reading(self, reading: bool) -> None:
        # Leaving a conversation is what places its read marker (WeeChat's way): the first
        # news after that goes under it. A conversation never read gets none.
        self._away = self._away or (self._reading and not reading)
        self._reading = reading

    @property
    def marker(self) -> LogEntry | None:
        return self._marker

    # -- people -------------------------------------------------------------------------------

    @property
    def users(self) -> list[str]:
        return sorted(self._users.values(), key=name_key)

    def set_users(self, names: Iterable[str]) -> None:
        self._users = {name_key(name): sanitize_text(name) for name in names}
        self.users_version += 1

    def add_user(self, name: str) -> None:
        self._users[name_key(name)] = sanitize_text(name)
        self.users_version += 1

    def remove_user(self, name: str) -> None:
        if self._users.pop(name_key(name), None) is not None:
            self.users_version += 1

    # -- lines --------------------------------------------------------------------------------

    def local_order(self) -> tuple[int, int]:
        """Where a local line goes: after the newest message shown."""
        return (self._base + self.log.newest_id(), next(self._sequence))

    def _order_of(self, message_id: int, minor: int = 0) -> tuple[int, int]:
        return (self._base + message_id, minor)

    def _restarted(self, message_id: int) -> bool:
        """Whether ``message_id``, new to us, says the server's ids started again."""
        if self.log.find(message_id) is not None:
            return True
        for entry in reversed(self.log.entries):
            if entry.id is not None and not entry.own:
                return message_id < entry.id
        return False

    def _rebase(self) -> None:
        majors = (entry.order[0] for entry in self.log.entries if entry.order[0] < PENDING)
        self._base = max(majors, default=0) + 1
        self.log.forget_ids()
        self._day_lines.clear()

    def note(self, text: str, kind: LineKind = LineKind.INFO, *, nick: str = "") -> LogEntry:
        """A local line, at the bottom."""
        entry = make_entry(kind, text, nick=nick, ts=self._now(), order=self.local_order())
        self.log.add((entry,))
        return entry

    def add_messages(
        self, entries: Sequence[LogEntry], *, count: bool, live: bool = False
    ) -> list[LogEntry]:
        """Place message lines by id; ``count`` them as unread unless this conversation is
        shown. ``live`` messages are new by definition (no server sends one twice). Returns
        those placed (the others were shown already)."""
        first = next((entry for entry in entries if not entry.own), None)
        if live and first is not None and first.id is not None and self._restarted(first.id):
            self._rebase()
        for entry in entries:
            if entry.id is not None:
                entry.order = self._order_of(entry.id)
        placed = self.log.add(entries)
        self._fix_days(placed)
        self.presence.spoke(placed)
        if count or live:
            self._mark_news([entry for entry in placed if not entry.own])
        if count:
            news = [entry for entry in placed if not entry.own]
            self.unread += len(news)
            self.mentioned |= any(entry.mention for entry in news) or (
                bool(news) and self.kind is Kind.DIRECT
            )
        return placed

    def _mark_news(self, news: Sequence[LogEntry]) -> None:
        """Move the read marker above the first of ``news`` if it is the first since the
        user last left this conversation."""
        if not news or self._reading or not self._away:
            return
        self._away = False
        first = min(news, key=order_key)
        if self._marker is not None:
            self.log.discard((self._marker,))
        self._marker = make_entry(LineKind.MARKER, "", order=(first.order[0], -2))
        self.log.add((self._marker,))

    def follow(self, leader: LogEntry, follower: LogEntry) -> None:
        """Keep ``follower`` (a line of ours refused locally) right under ``leader`` (ours,
        awaiting its ack) when the ack moves it."""
        self._followers.setdefault(leader, []).append(follower)

    def _move_followers(self, leader: LogEntry, where: LogEntry | None = None) -> None:
        """``leader`` has its place: its followers go right under ``where`` (else it)."""
        anchor = where or leader
        for follower in self._followers.pop(leader, []):
            follower.order = (anchor.order[0], next(self._sequence))
            self.log.reposition(follower)

    def confirm(self, entry: LogEntry, message_id: int, ts: int, duplicate: bool) -> None:
        """Our line ``entry`` is message ``message_id``. If that message is already shown (a
        resend of a line that had arrived: it came back in the replay), the line goes."""
        shown = self.log.find(message_id)
        if shown is not None:
            if duplicate:
                self.log.discard((entry,))
                self._move_followers(entry, shown)
                return
            self._rebase()  # a new message with an id we have: the server's ids restarted
        entry.id, entry.ts, entry.order = message_id, ts, self._order_of(message_id)
        self.log.reposition(entry)
        self._fix_days([entry])
        self._move_followers(entry)

    def refuse(self, entry: LogEntry, reason: str) -> None:
        """Our line ``entry`` did not go out: mark it, and let later lines pass it."""
        entry.failed, entry.failure = True, reason
        entry.order = self.local_order()
        self.log.reposition(entry)
        self._move_followers(entry)

    def seen(self) -> None:
        self.unread, self.mentioned = 0, False

    def clear(self) -> None:
        """Empty the log; older history stays away (scrolling up does not bring it back)."""
        self.log.clear()
        self.more_older = False
        self._loading = self._beginning = self._gap = self._marker = None
        self._day_lines.clear()
        self.presence.forget_burst()

    # -- history ------------------------------------------------------------------------------

    def want_older(self, max_history: int) -> GetHistory | None:
        """The request for the page before the oldest message shown, unless there is none to
        ask for (already asked, nothing older, no history on this server, the log is full)."""
        if self.kind is Kind.HOME or self.loading or self.more_older is False:
            return None
        if not self.joined or max_history <= 0 or self.log.room_left <= 1:
            return None
        limit = min(HISTORY_PAGE, max_history, self.log.room_left - 1)
        request = GetHistory(room=self.target, before=self.log.oldest_id(), limit=limit)
        self._loading = self._top_line("loading older messages…", _LOADING)
        return request

    def stop_loading(self) -> None:
        if self._loading is not None:
            self.log.discard((self._loading,))
            self._loading = None

    def older_page(self, entries: Sequence[LogEntry], more: bool, *, count: bool) -> None:
        """A page of the most recent messages or of older ones: ``more`` if older exist."""
        self.stop_loading()
        first = self.log.newest_id() == 0
        self.add_messages(entries, count=count)
        newest = self.log.newest_id()
        if first and newest:
            # Lines written before any message was known (the welcome, "you joined") read
            # best after the room's past, not above it.
            for entry in [e for e in self.log.entries if e.id is None and e.order[0] == 0]:
                entry.order = (newest, entry.order[1])
                self.log.reposition(entry)
        self.more_older = more
        if not more and self._beginning is None:
            self._beginning = self._top_line("beginning of history", _BEGINNING)

    def _top_line(self, text: str, order: tuple[int, int]) -> LogEntry:
        entry = make_entry(LineKind.INFO, f"— {text} —", order=order)
        self.log.add((entry,))
        return entry

    # -- connection lost ----------------------------------------------------------------------

    def mark_gap(self) -> None:
        """The connection was lost: mark the place (what is missed goes after it)."""
        if self._gap is not None:
            return
        now = self._now()
        self.presence.lost(self._users.values(), now)
        self._gap_text = f"connection lost at {format_time(now, self.tz, self.time_format)}"
        self._gap = self.note(f"— {self._gap_text} —", LineKind.GAP)

    def close_gap(self) -> None:
        """Reconnected: say when on the marker."""
        if self._gap is None:
            return
        back = format_time(self._now(), self.tz, self.time_format)
        self._gap.text = f"— {self._gap_text}, reconnected at {back} —"
        self.log.changed(self._gap)
        self._gap = None

    # -- "day changed" lines --------------------------------------------------------------------

    def _day(self, entry: LogEntry) -> date | None:
        if entry.ts is None:
            return None
        return datetime.fromtimestamp(entry.ts / 1000, self.tz).date()

    def _fix_days(self, placed: Iterable[LogEntry]) -> None:
        """Keep a "day changed" line before each message whose day differs from the message
        before it, wherever messages were put in."""
        add: list[LogEntry] = []
        drop: list[LogEntry] = []
        entries = self.log.entries
        for entry in placed:
            if entry.id is None or entry.ts is None:
                continue
            index = bisect.bisect_left(entries, entry.order, key=order_key)
            self._want_day_line(entry, _message_at(entries, index - 1, -1), add, drop)
            after = _message_at(entries, index + 1, 1)
            if after is not None and after.id is not None:
                self._want_day_line(after, entry, add, drop)
        if drop:
            self.log.discard(drop)
        if add:
            self.log.add(add)

    def _want_day_line(
        self, entry: LogEntry, before: LogEntry | None, add: list[LogEntry], drop: list[LogEntry]
    ) -> None:
        """Keep the date line ``entry`` wants: "Day changed" after a message of another day,
        the bare date above the oldest message shown (WeeChat and irssi open a log with it:
        without it the oldest day's messages have times but no date)."""
        assert entry.id is not None
        day = self._day(entry)
        text = ""
        if day is not None and before is None:
            text = f"{day:%A %-d %B %Y}"
        elif day is not None and before is not None and self._day(before) not in (None, day):
            text = f"Day changed to {day:%A %-d %B %Y}"
        line = self._day_lines.get(entry.id)
        if text and line is None:
            line = make_entry(LineKind.INFO, text, ts=entry.ts, order=self._order_of(entry.id, -1))
            self._day_lines[entry.id] = line
            add.append(line)
        elif text and line is not None and line.text != text:
            line.text = text  # older messages came in above: the date became a change of day
            self.log.changed(line)
        elif not text and line is not None:
            del self._day_lines[entry.id]
            drop.append(line)
