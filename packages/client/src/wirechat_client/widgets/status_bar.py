"""The top bar: the app, the server, who you are, and the state of the connection."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from wirechat_common import sanitize_text

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
        *(f"status-bar--{state.value}" for state in LinkState),
    }

    server: reactive[str] = reactive("")
    me: reactive[str] = reactive("")
    state: reactive[LinkState] = reactive(LinkState.CONNECTING)
    detail: reactive[str] = reactive("")

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
        gap = max(1, self.size.width - left.cell_len - len(state) - 1)
        style = self.get_component_rich_style(f"status-bar--{self.state.value}", partial=True)
        return Text.assemble(left, " " * gap, (state, style), " ", end="")
