"""Search in a conversation's log: which lines match, and which one the reader is on.

Only what people said is searched (messages and actions, with their nick), never the client's
own notes, so that "no match for x" cannot become a match for x. Matching ignores case.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .lines import LineKind, LogEntry

_SAID = (LineKind.MESSAGE, LineKind.ACTION)


def matches(entries: Sequence[LogEntry], text: str) -> list[LogEntry]:
    """The lines of ``entries`` that contain ``text``, oldest first."""
    folded = text.casefold()
    return [
        entry
        for entry in entries
        if entry.kind in _SAID and folded in f"{entry.nick} {entry.text}".casefold()
    ]


@dataclass
class Finding:
    """A search in progress: its text, its matches, and the one shown (the newest first)."""

    text: str
    found: list[LogEntry]
    at: int = 0  # index in found of the match shown

    @classmethod
    def of(cls, entries: Sequence[LogEntry], text: str) -> Finding:
        found = matches(entries, text)
        return cls(text, found, len(found) - 1)

    @property
    def current(self) -> LogEntry | None:
        return self.found[self.at] if self.found else None

    def older(self) -> LogEntry | None:
        """Step to the next older match (after the oldest, round to the newest)."""
        if self.found:
            self.at = (self.at - 1) % len(self.found)
        return self.current

    def status(self) -> str:
        if not self.found:
            return f"No match for {self.text!r} in this conversation."
        return f"Match {self.at + 1} of {len(self.found)} for {self.text!r} (Ctrl+R: older)."
