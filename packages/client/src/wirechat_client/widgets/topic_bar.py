"""The line above the log: which conversation is shown, and its topic.

A topic longer than the line wraps onto a second and a third (the stylesheet's max-height), and
a web address in it is folded rather than cut, and linked: the whole address opens.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from wirechat_common import sanitize_text

from ..drawing import link
from ..lines import terminal_safe


class TopicBar(Static):
    """``#room · topic`` (or a hint when there is none)."""

    def show(self, name: str, topic: str, hint: str = "") -> None:
        # Text, never markup: a topic is typed by anyone in the room.
        line = Text(sanitize_text(name), style="bold", end="")
        if topic:
            line.append(" · ")
            start = len(line)
            topic = terminal_safe(sanitize_text(topic))
            line.append(topic)
            link(line, topic, start)
        elif hint:
            line.append(" · ")
            line.append(hint, style="dim")
        self.update(line)
