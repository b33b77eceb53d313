"""Which join and leave lines a conversation shows: WeeChat's smart filter, and reconnects.

A join or a leave is news only about someone who spoke lately (within the settings file's
``smart-filter-minutes``; 0 shows them all): in a busy room the comings and goings of people
who never speak bury the talk. Someone who comes back after their connection dropped, or after
ours did (a server restart drops everyone), has *reconnected*; reconnects that follow one
another closely share one line that counts up in place ("12 people reconnected"), shown even
for people the filter would hide, since a burst of them says something about the server.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Final

from wirechat_common import LeaveReason, name_key

from .lines import LineKind, LogEntry, make_entry
from .log_model import LogModel

#: A reconnect this close to the one before it joins that one's line.
RECONNECT_BURST_MS: Final = 60_000
#: A join this long after a dropped connection still counts as coming back.
RECONNECT_WITHIN_MS: Final = 15 * 60_000
#: Leaves nobody chose: the same person joining soon after is a reconnect.
_DROPS: Final = frozenset(
    {LeaveReason.DROPPED, LeaveReason.TIMEOUT, LeaveReason.TOO_SLOW, LeaveReason.SHUTDOWN}
)


@dataclass(slots=True)
class _Burst:
    last: int  # ms: when the latest reconnect of it came
    names: list[str] = field(default_factory=list)
    entry: LogEntry | None = None  # its line, once shown


class Presence:
    """The join and leave lines of one conversation's ``log``; ``order`` places a new line,
    ``window_ms`` is the smart filter's (0: off)."""

    def __init__(self, log: LogModel, order: Callable[[], tuple[int, int]], window_ms: int) -> None:
        self._log = log
        self._order = order
        self.window_ms = window_ms
        self._spoke: dict[str, int] = {}  # name key -> ms of their latest message
        self._dropped: dict[str, int] = {}  # name key -> ms their connection (or ours) went
        self._burst: _Burst | None = None

    def spoke(self, entries: Iterable[LogEntry]) -> None:
        for entry in entries:
            if entry.kind in (LineKind.MESSAGE, LineKind.ACTION) and entry.ts is not None:
                key = name_key(entry.nick)
                self._spoke[key] = max(entry.ts, self._spoke.get(key, entry.ts))

    def lost(self, names: Iterable[str], ts: int) -> None:
        """Our connection dropped: whoever was here and joins again has reconnected."""
        for name in names:
            self._dropped[name_key(name)] = ts

    def forget_burst(self) -> None:
        self._burst = None

    def line(
        self, kind: LineKind, text: str, name: str, ts: int, *, reason: str = "", keep: bool
    ) -> None:
        """A join, leave or topic line about ``name``; ``keep``: shown whatever the filter."""
        key = name_key(name)
        if kind is LineKind.LEAVE and reason in _DROPS:
            self._dropped[key] = ts
        if kind is LineKind.JOIN:
            dropped = self._dropped.pop(key, None)
            if dropped is not None and ts - dropped <= RECONNECT_WITHIN_MS:
                self._reconnected(name, ts, keep)
                return
        if keep or kind is LineKind.INFO or self._recent(key, ts):
            self._log.add((make_entry(kind, text, nick=name, ts=ts, order=self._order()),))

    def _recent(self, key: str, ts: int) -> bool:
        spoke = self._spoke.get(key)
        return not self.window_ms or (spoke is not None and ts - spoke <= self.window_ms)

    def _reconnected(self, name: str, ts: int, keep: bool) -> None:
        burst = self._burst
        if burst is None or ts - burst.last > RECONNECT_BURST_MS:
            self._burst = burst = _Burst(ts)
        burst.names.append(name)
        burst.last = ts
        count = len(burst.names)
        if count == 1 and not (keep or self._recent(name_key(name), ts)):
            return
        nick, text = (name, "reconnected") if count == 1 else ("", f"{count} people reconnected")
        if burst.entry is None:
            burst.entry = make_entry(LineKind.JOIN, text, nick=nick, ts=ts, order=self._order())
            self._log.add((burst.entry,))
        else:
            burst.entry.nick, burst.entry.text = nick, text
            self._log.changed(burst.entry)
