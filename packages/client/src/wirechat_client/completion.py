"""Tab completion of nicks and slash commands, cycling on repeated Tab like irssi and WeeChat.

The word before the cursor is completed: a first word starting with ``/`` from the commands, a
word starting with ``#`` from the rooms, the name after ``/msg`` from everyone known, anything
else from the nicks present (case-insensitively). A nick completed at the start of the line gets
``": "`` after it, the usual way to address someone. Pressing Tab again, with nothing
typed in between, replaces the completion with the next candidate.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from wirechat_common import name_key


@dataclass(frozen=True, slots=True)
class _Cycle:
    start: int  # where the completed word starts
    tail: str  # the text after the cursor, untouched
    candidates: tuple[str, ...]
    index: int
    result: tuple[str, int]  # (value, cursor) we produced: Tab again only cycles from here


class Completer:
    """Remembers the last completion so the next Tab can move on to the next candidate."""

    def __init__(self) -> None:
        self._cycle: _Cycle | None = None

    def reset(self) -> None:
        self._cycle = None

    def complete(
        self,
        value: str,
        cursor: int,
        nicks: Iterable[str],
        commands: Iterable[str],
        rooms: Iterable[str] = (),
        everyone: Iterable[str] = (),
    ) -> tuple[str, int] | None:
        """The new ``(value, cursor)``, or ``None`` when nothing matches."""
        cycle = self._cycle
        if cycle is not None and cycle.result == (value, cursor):
            return self._apply(value, cycle, (cycle.index + 1) % len(cycle.candidates))
        start = cursor
        while start > 0 and not value[start - 1].isspace():
            start -= 1
        word = value[start:cursor]
        if start == 0 and word.startswith("/"):
            candidates = sorted(c for c in commands if c.startswith(word.lower()))
        elif word.startswith("#"):
            candidates = sorted(
                {name_key(r): r for r in rooms if name_key(r).startswith(name_key(word))}.values(),
                key=name_key,
            )
        else:
            if value[:start].lower().split() == ["/msg"]:
                nicks = everyone
            prefix = name_key(word.lstrip("@"))
            candidates = sorted((n for n in nicks if name_key(n).startswith(prefix)), key=name_key)
        if not candidates or not word:
            self._cycle = None
            return None
        cycle = _Cycle(start, value[cursor:], tuple(candidates), 0, ("", 0))
        return self._apply(value, cycle, 0)

    def _apply(self, value: str, cycle: _Cycle, index: int) -> tuple[str, int]:
        candidate = cycle.candidates[index]
        head = value[: cycle.start]
        if cycle.start == 0 and not candidate.startswith(("/", "#")):
            candidate += ":"  # addressing someone at the start of a line
        inserted = candidate if cycle.tail.startswith(" ") else candidate + " "
        new_value = head + inserted + cycle.tail
        result = (new_value, len(head) + len(inserted))
        self._cycle = _Cycle(cycle.start, cycle.tail, cycle.candidates, index, result)
        return result
