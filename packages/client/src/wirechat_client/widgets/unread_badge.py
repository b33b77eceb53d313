"""The "N new lines" marker shown while the log is scrolled up; clicking it jumps down."""

from __future__ import annotations

from dataclasses import dataclass

from textual.events import Click
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import Static


class UnreadBadge(Static):
    """Hidden while ``count`` is 0."""

    count: reactive[int] = reactive(0)

    @dataclass
    class Pressed(Message):
        """The user asked to jump to the newest line."""

    def watch_count(self, count: int) -> None:
        self.display = count > 0
        self.update(f"▼ {count} new {'line' if count == 1 else 'lines'} · Ctrl+End")

    def on_click(self, event: Click) -> None:
        event.stop()
        self.post_message(self.Pressed())
