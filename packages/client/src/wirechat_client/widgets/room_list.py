"""The conversation list beside the log: rooms, then direct messages (named after the peer),
each with its count of unread messages and a ``!`` when one of them was for us."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from ..nick_colors import NickColors


@dataclass(frozen=True, slots=True)
class RoomItem:
    """One line of the list."""

    key: str
    name: str
    direct: bool
    unread: int
    mentioned: bool


class RoomList(OptionList):
    """Click a conversation (or pick it with the arrows and Enter) to show it."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {"room-list--mention"}

    @dataclass
    class Chosen(Message):
        """The user picked the conversation ``key``."""

        key: str

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.nick_colors = NickColors()  # the screen's own table replaces this one
        self._items: tuple[RoomItem, ...] = ()
        self._current = ""
        self.border_title = "rooms"

    @property
    def items(self) -> Sequence[RoomItem]:
        return self._items

    def show(self, items: Sequence[RoomItem], current: str) -> None:
        """List ``items``, highlighting ``current``; nothing is redrawn if nothing changed."""
        items = tuple(items)
        if items == self._items and current == self._current:
            return
        self._items, self._current = items, current
        self._show()

    def _show(self) -> None:
        palette = self.nick_colors.palette(self.app.current_theme.dark)
        options: list[Option | None] = []
        for index, item in enumerate(self._items):
            if item.direct and (index == 0 or not self._items[index - 1].direct) and options:
                options.append(None)  # a rule between the rooms and the people
            options.append(Option(self._prompt(item, palette), id=item.key))
        self.set_options(options)
        keys = [item.key for item in self._items]
        if self._current in keys:
            self.highlighted = keys.index(self._current)

    def _prompt(self, item: RoomItem, palette: tuple[str, ...]) -> Text:
        mention = self.get_component_rich_style("room-list--mention", partial=True)
        marker = ("!", mention) if item.mentioned else (" ", Style())
        name_style = Style(
            color=self.nick_colors.color(item.name, palette) if item.direct else None,
            bold=item.unread > 0,
        )
        text = Text.assemble(marker, (item.name, name_style), end="")
        if item.unread:
            text.append(f" {item.unread}", "bold")
        return text

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id is not None:
            self.post_message(self.Chosen(event.option.id))

    def refresh_colors(self) -> None:
        """Pick the palette of the current theme again."""
        self._show()
