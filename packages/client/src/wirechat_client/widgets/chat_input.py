"""The line editor: Enter sends, Up/Down walk the history, Tab completes nicks, rooms and
commands."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.widgets import Input

from ..commands import COMMANDS
from ..completion import Completer
from ..history import InputHistory


class ChatInput(Input):
    """An :class:`~textual.widgets.Input` with history and completion.

    ``nicks`` (the people of the conversation shown), ``rooms`` and ``everyone`` (all names
    known, for ``/msg``) are asked at each Tab, so completion follows presence.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "history_back", "Previous line", show=False),
        Binding("down", "history_forward", "Next line", show=False),
        # Tab is focus_next everywhere else; here it completes, like every chat client.
        Binding("tab", "complete", "Complete", show=False),
    ]

    def __init__(
        self,
        nicks: Callable[[], Sequence[str]],
        *,
        rooms: Callable[[], Sequence[str]] = tuple,
        everyone: Callable[[], Sequence[str]] = tuple,
        placeholder: str = "",
        id: str | None = None,
    ) -> None:
        super().__init__(placeholder=placeholder, id=id)
        self.history = InputHistory()
        self._completer = Completer()
        self._nicks = nicks
        self._rooms = rooms
        self._everyone = everyone

    def remember(self, line: str) -> None:
        """Record a submitted line in the history."""
        self.history.add(line)

    def action_history_back(self) -> None:
        line = self.history.back(self.value)
        if line is not None:
            self._replace(line)

    def action_history_forward(self) -> None:
        line = self.history.forward()
        if line is not None:
            self._replace(line)

    def action_complete(self) -> None:
        result = self._completer.complete(
            self.value,
            self.cursor_position,
            self._nicks(),
            list(COMMANDS),
            self._rooms(),
            self._everyone(),
        )
        if result is None:
            self.app.bell()
            return
        value, cursor = result
        self.value = value
        self.cursor_position = cursor

    def insert_mention(self, name: str) -> None:
        """Start (or extend) the line with ``name``, IRC style, and focus the input."""
        self._replace(f"{name}: {self.value}" if not self.value else f"{self.value} {name} ")
        self.focus()

    def _replace(self, line: str) -> None:
        self.value = line
        self.cursor_position = len(line)
