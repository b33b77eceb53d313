"""The line editor: Enter sends, Up/Down walk the history, Tab completes nicks, rooms and
commands.

Keys are handled in the order they were typed, even when many arrive in one read. Textual runs
a focused widget's (non-priority) key bindings only once the key has bubbled up to the App,
through every ancestor's message queue, while the keys typed after it are already in the
widget: Enter then submitted the text typed after it, once per Enter. Here the input runs the
binding as soon as it receives the key (docs/textual-input-bug.md).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import ClassVar

from textual import events
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

    async def _on_key(self, event: events.Key) -> None:
        if await self._run_binding(event.key):
            event.stop()
            event.prevent_default()
            return
        await super()._on_key(event)

    async def _run_binding(self, key: str) -> bool:
        """Run the binding of ``key`` now, in typing order, rather than once the key has gone
        round the DOM; whether one ran."""
        active = self.screen.active_bindings.get(key)
        # Priority bindings already ran, at the App, before the key was forwarded here.
        if active is None or active.binding.priority or not active.enabled:
            return False
        return await self.app.run_action(active.binding.action, active.node)

    async def action_submit(self) -> None:
        """Send the line as it is now, and start a fresh one before the next key is read."""
        line = self.value
        self.value = ""
        self.history.add(line)
        self._completer.reset()
        self.post_message(self.Submitted(self, line))

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
