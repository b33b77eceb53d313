"""The line editor: Enter sends, Up/Down walk the history, Tab completes nicks, rooms and
commands, Ctrl+J (or Alt+Enter, Shift+Enter where the terminal tells them from Enter) starts a
new line of a block.

The lines of a block above the one being edited are the :attr:`ChatInput.draft`; a
:class:`ChatInput.DraftChanged` message tells the screen to show them. A bracketed paste of
several lines becomes such a block, to be looked at and sent with Enter.

Keys are handled in the order they were typed, even when many arrive in one read. Textual runs
a focused widget's (non-priority) key bindings only once the key has bubbled up to the App,
through every ancestor's message queue, while the keys typed after it are already in the
widget: Enter then submitted the text typed after it, once per Enter. Here the input runs the
binding as soon as it receives the key (docs/textual-input-bug.md).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar

from textual import events
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import Input

from ..blocks import split_lines
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
        # Ctrl+J is a line feed, which every terminal tells from Enter (a carriage return);
        # Alt+Enter and Shift+Enter arrive as Enter unless the terminal reports modifiers.
        Binding("ctrl+j,alt+enter,shift+enter", "newline", "New line", show=False),
    ]

    @dataclass
    class DraftChanged(Message):
        """The lines above the one being edited changed (to ``lines``)."""

        lines: list[str]

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
        self.draft: list[str] = []

    async def _on_key(self, event: events.Key) -> None:
        # Textual calls the _on_key of every class in the MRO unless the default is prevented:
        # Input's own runs after this one for the keys that are not a binding.
        if await self._run_binding(event.key):
            event.stop()
            event.prevent_default()

    async def _run_binding(self, key: str) -> bool:
        """Run the binding of ``key`` now, in typing order, rather than once the key has gone
        round the DOM; whether one ran."""
        active = self.screen.active_bindings.get(key)
        # Priority bindings already ran, at the App, before the key was forwarded here.
        if active is None or active.binding.priority or not active.enabled:
            return False
        return await self.app.run_action(active.binding.action, active.node)

    @property
    def text(self) -> str:
        """The whole block being edited, its lines joined by newlines."""
        return "\n".join([*self.draft, self.value])

    def load(self, text: str) -> None:
        """Replace what is being edited with ``text`` (a block if it has several lines), the
        cursor at its end."""
        *draft, last = split_lines(text)
        self._set_draft(draft)
        self.value = last
        self.cursor_position = len(last)

    async def action_submit(self) -> None:
        """Send the block as it is now, and start afresh before the next key is read."""
        text = self.text
        self.load("")
        self.history.add(text)
        self._completer.reset()
        self.post_message(self.Submitted(self, text))

    def action_newline(self) -> None:
        cursor = self.cursor_position
        self._set_draft([*self.draft, self.value[:cursor]])
        self.value = self.value[cursor:]
        self.cursor_position = 0

    def action_delete_left(self) -> None:
        # At the start of a line of a block, Backspace joins it to the line above, as editors do.
        if self.cursor_position == 0 and self.selection.is_empty and self.draft:
            *draft, above = self.draft
            self._set_draft(draft)
            self.value = above + self.value
            self.cursor_position = len(above)
            return
        super().action_delete_left()

    def _on_paste(self, event: events.Paste) -> None:
        if "\n" not in event.text and "\r" not in event.text:
            return  # one line: Input's own _on_paste, called next, inserts it
        event.stop()
        event.prevent_default()
        start, end = sorted(self.selection)
        *above, last = split_lines(self.value[:start] + event.text)
        self._set_draft([*self.draft, *above])
        self.value = last + self.value[end:]
        self.cursor_position = len(last)

    def action_history_back(self) -> None:
        line = self.history.back(self.text)
        if line is not None:
            self.load(line)

    def action_history_forward(self) -> None:
        line = self.history.forward()
        if line is not None:
            self.load(line)

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
        self.value = f"{name}: {self.value}" if not self.value else f"{self.value} {name} "
        self.cursor_position = len(self.value)
        self.focus()

    def _set_draft(self, lines: list[str]) -> None:
        if lines != self.draft:
            self.draft = lines
            self.post_message(self.DraftChanged(list(lines)))
