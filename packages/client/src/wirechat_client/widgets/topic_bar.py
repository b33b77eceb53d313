"""The line above the log: which conversation is shown, and its topic."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from wirechat_common import sanitize_text


class TopicBar(Static):
    """``#room · topic`` (or a hint when there is none)."""

    def show(self, name: str, topic: str, hint: str = "") -> None:
        # Text, never markup: a topic is typed by anyone in the room.
        line = Text(sanitize_text(name), style="bold", end="")
        if topic:
            line.append(" · ")
            line.append(sanitize_text(topic))
        elif hint:
            line.append(" · ")
            line.append(hint, style="dim")
        self.update(line)
