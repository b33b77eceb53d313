"""Input history, shell-style: Up walks back through what was sent, Down walks forward again
to the line being typed, which is kept as it was."""

from __future__ import annotations

from collections import deque
from typing import Final

#: Lines remembered: a long session's worth, small enough to never matter for memory.
MAX_HISTORY: Final = 500


class InputHistory:
    """The lines sent, oldest first, and a cursor into them."""

    def __init__(self, limit: int = MAX_HISTORY) -> None:
        self._lines: deque[str] = deque(maxlen=limit)
        self._index = 0  # == len(self._lines) while editing a fresh line
        self._draft = ""

    def __len__(self) -> int:
        return len(self._lines)

    def add(self, line: str) -> None:
        """Remember ``line`` (not twice in a row) and go back to a fresh line."""
        if line.strip() and (not self._lines or self._lines[-1] != line):
            self._lines.append(line)
        self._index = len(self._lines)
        self._draft = ""

    def back(self, current: str) -> str | None:
        """The line before, or ``None`` at the oldest. ``current`` is kept as the draft."""
        if self._index == 0:
            return None
        if self._index == len(self._lines):
            self._draft = current
        self._index -= 1
        return self._lines[self._index]

    def forward(self) -> str | None:
        """The line after (the draft after the newest), or ``None`` when already there."""
        if self._index >= len(self._lines):
            return None
        self._index += 1
        if self._index == len(self._lines):
            return self._draft
        return self._lines[self._index]
