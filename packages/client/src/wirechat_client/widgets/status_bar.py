"""The top bar: the app, the server, who you are, the hotlist, and the state of the connection.

The hotlist is WeeChat's: ``[4:bob(1)! 2:#dev(3)]`` names each conversation with unread
messages by its place in the list (Alt+4 shows bob), mentions first, so that it tells where to
go even with the conversation list hidden. What does not fit ends in ``…``.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from wirechat_common import sanitize_text

from ..activity import HotItem
from ..events import LinkState

_STATE_LABEL = {
    LinkState.CONNECTING: "connecting…",
    LinkState.ONLINE: "online",
    LinkState.OFFLINE: "offline",
    LinkState.CLOSED: "disconnected",
}


class StatusBar(Widget):
    """One line, docked at the top. The state is coloured by ``status-bar--STATE``."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "status-bar--app",
        "status-bar--hot",
        "status-bar--mention",
        *(f"status-bar--{state.value}" for state in LinkState),
    }

    server: reactive[str] = reactive("")
    me: reactive[str] = reactive("")
    state: reactive[LinkState] = reactive(LinkState.CONNECTING)
    detail: reactive[str] = reactive("")
    hotlist: reactive[tuple[HotItem, ...]] = reactive(())

    def render(self) -> Text:
        state = f"● {_STATE_LABEL[self.state]}"
        if self.detail:
            state += f" ({self.detail})"
        left = Text.assemble(
            (" wirechat ", self.get_component_rich_style("status-bar--app", partial=True)),
            "  ",
            (sanitize_text(self.me), "bold"),
            " @ ",
            sanitize_text(self.server),
            end="",
        )
        room = self.size.width - left.cell_len - len(state) - 3
        hot = self._hotlist(room)
        gap = max(1, self.size.width - left.cell_len - hot.cell_len - len(state) - 1)
        style = self.get_component_rich_style(f"status-bar--{self.state.value}", partial=True)
        return Text.assemble(left, hot, " " * gap, (state, style), " ", end="")

    def _hotlist(self, width: int) -> Text:
        """`` [4:bob(1)! 2:#dev(3)]`` in at most ``width`` cells (nothing if none fits)."""
        hot = self.get_component_rich_style("status-bar--hot", partial=True)
        mention = self.get_component_rich_style("status-bar--mention", partial=True)
        text = Text("  [", end="")
        for index, item in enumerate(self.hotlist):
            label = (" " if index else "") + sanitize_text(item.label)
            more = 0 if index == len(self.hotlist) - 1 else 1  # room for "…" after it
            if text.cell_len + len(label) + more + 1 > width:
                if not index:
                    return Text(end="")
                text.append("…")
                break
            text.append(label, mention if item.mentioned else hot)
        else:
            if not self.hotlist:
                return Text(end="")
        return text.append("]")
