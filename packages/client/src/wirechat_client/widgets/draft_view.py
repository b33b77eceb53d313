"""The lines of a block above the one being edited, shown over the input."""

from __future__ import annotations

from typing import Final

from rich.text import Text
from textual.widgets import Static

from wirechat_common import sanitize_text

#: Rows the view may take: a long paste must not push the log off the screen.
MAX_ROWS: Final = 5


class DraftView(Static):
    """Hidden while there is no block; the last :data:`MAX_ROWS` lines of one otherwise."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.display = False

    def show(self, lines: list[str]) -> None:
        self.display = bool(lines)
        shown = lines[-MAX_ROWS:]
        text = Text()
        hidden = len(lines) - len(shown)
        if hidden:
            text.append(f"… {hidden} more line{'s' if hidden > 1 else ''} above\n", "italic")
        text.append("\n".join(sanitize_text(line) for line in shown))
        self.border_title = f"{len(lines) + 1} lines · Enter sends each · Ctrl+J new line"
        self.update(text)
