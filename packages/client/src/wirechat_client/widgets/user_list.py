"""Who is here: a sorted, live list with a count; choosing a name starts a mention."""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rich.style import Style
from rich.text import Text
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from wirechat_common import name_key, sanitize_text

from ..nick_colors import NickColors


class UserList(OptionList):
    """The people present, sorted case-insensitively, coloured like their lines in the log."""

    @dataclass
    class MentionRequested(Message):
        """The user picked ``name`` (Enter or click): the screen starts a mention."""

        name: str

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.nick_colors = NickColors()  # the screen's own table replaces this one
        self._names: list[str] = []  # sorted by name_key
        self.me = ""

    @property
    def names(self) -> Sequence[str]:
        return self._names

    def set_users(self, names: Iterable[str], me: str = "") -> None:
        self.me = me or self.me
        self._names = sorted({name_key(n): sanitize_text(n) for n in names}.values(), key=name_key)
        self._show()

    def add_user(self, name: str) -> None:
        name = sanitize_text(name)
        keys = [name_key(n) for n in self._names]
        index = bisect.bisect_left(keys, name_key(name))
        if index < len(keys) and keys[index] == name_key(name):
            return
        self._names.insert(index, name)
        self._show()

    def remove_user(self, name: str) -> None:
        key = name_key(name)
        self._names = [n for n in self._names if name_key(n) != key]
        self._show()

    def _show(self) -> None:
        palette = self.nick_colors.palette(self.app.current_theme.dark)
        highlighted = self.highlighted_option.id if self.highlighted_option else None
        self.set_options(
            Option(
                # Names are ASCII by the protocol's rules, so the column always lines up; the
                # stylesheet cuts a name wider than the list with an ellipsis.
                Text(
                    name,
                    Style(
                        color=self.nick_colors.color(name, palette),
                        bold=name_key(name) == name_key(self.me),
                    ),
                    end="",
                ),
                id=name_key(name),
            )
            for name in self._names
        )
        if highlighted is not None and any(name_key(n) == highlighted for n in self._names):
            self.highlighted = self.get_option_index(highlighted)
        count = len(self._names)
        self.border_title = f"{count} {'user' if count == 1 else 'users'}"

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        index = event.option_index
        if 0 <= index < len(self._names):
            self.post_message(self.MentionRequested(self._names[index]))

    def refresh_colors(self) -> None:
        """Pick the palette of the current theme again."""
        self._show()
