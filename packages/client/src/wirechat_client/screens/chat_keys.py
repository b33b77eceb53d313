"""The chat screen's keys: moving between conversations, scrolling, showing and hiding panes.

The keys follow irssi and WeeChat where their users have habits: Alt+1..9 and Alt+0 pick a
conversation by its place in the list, Alt+A the next one with unread messages (mentions
first), Ctrl+P / Ctrl+N the previous / next one, Ctrl+L redraws the screen. The footer spells
Alt out: the ⌥ glyph means nothing outside macOS.
"""

from __future__ import annotations

from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Input

from ..commands import help_lines
from ..conversation import Conversation
from ..conversations import Conversations
from ..feed import Feed
from ..messages import PaneToggled, QuitRequested
from ..search import Finding
from ..widgets.chat_input import ChatInput
from ..widgets.chat_log import ChatLog
from ..widgets.room_list import RoomList
from ..widgets.user_list import UserList
from .confirm import Confirm

#: Alt+1 is the first conversation, ... Alt+9 the ninth, Alt+0 the tenth.
_NUMBERED = [
    Binding(
        f"alt+{n % 10}", f"number({n})", f"Conversation {n}", show=False, id=f"conversation-{n}"
    )
    for n in range(1, 11)
]


class ChatKeys(Screen[None]):
    """Key actions over the conversations and widgets that :class:`ChatScreen` sets up.

    Each binding's id is its name in the settings file's ``[keys]`` table (see
    :mod:`wirechat_client.keymap`)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f1", "help", "Help", key_display="F1", id="help"),
        Binding("f2", "toggle_pane('users')", "Users", key_display="F2", id="toggle-users"),
        Binding("f3", "toggle_pane('rooms')", "Rooms", key_display="F3", id="toggle-rooms"),
        Binding("alt+up", "step(-1)", "Prev", key_display="Alt+↑", id="previous-conversation"),
        Binding("alt+down", "step(1)", "Next", key_display="Alt+↓", id="next-conversation"),
        Binding(
            "ctrl+p", "step(-1)", "Previous conversation", show=False, id="previous-conversation"
        ),
        Binding("ctrl+n", "step(1)", "Next conversation", show=False, id="next-conversation"),
        Binding("alt+a", "active", "Next active", show=False, id="next-active"),
        *_NUMBERED,
        Binding("ctrl+l", "redraw", "Redraw", show=False, id="redraw"),
        Binding("ctrl+r", "search", "Search", show=False, id="search"),
        Binding("pageup", "page(-1)", "Scroll up", show=False, id="scroll-up"),
        Binding("pagedown", "page(1)", "Scroll down", show=False, id="scroll-down"),
        Binding("ctrl+end", "latest", "Latest", show=False, id="latest"),
    ]

    conversations: Conversations
    feed: Feed
    user_list: UserList
    room_list: RoomList
    chat_input: ChatInput
    finding: Finding | None = None  # the search in progress, in the conversation shown

    @property
    def chat_log(self) -> ChatLog:
        raise NotImplementedError

    def note(self, text: str) -> None:
        raise NotImplementedError

    def _sync(self) -> None:
        raise NotImplementedError

    def _show(self, conversation: Conversation | None) -> None:
        if conversation is None:
            self.app.bell()
            return
        self.conversations.current = conversation
        self._sync()

    def action_help(self) -> None:
        for line in help_lines():
            self.note(line)

    def clear_log(self) -> None:
        """``/clear``: forget the conversation's lines on this screen."""
        current = self.conversations.current
        self.feed.forget(current)
        current.clear()

    def action_step(self, offset: int) -> None:
        self._show(self.conversations.step(offset))

    def action_number(self, n: int) -> None:
        self._show(self.conversations.number(n))

    def action_active(self) -> None:
        self._show(self.conversations.next_active())

    def search(self, text: str, *, tell: bool = True) -> None:
        """``/search TEXT``: highlight TEXT and show its newest match; no TEXT: stop. As the
        command is typed, the search follows without saying anything (``tell``)."""
        self.chat_log.highlight(text)
        if not text:
            self.finding = None
            return
        self.finding = Finding.of(self.conversations.current.log.entries, text)
        self._show_found(tell)

    def on_input_changed(self, event: Input.Changed) -> None:
        # "/search TEXT" searches as it is typed (the Enter that ends it says what it found).
        command, _, text = event.value.partition(" ")
        if command.lower() == "/search" and text.strip():
            self.search(text.strip(), tell=False)

    def action_search(self) -> None:
        """Ctrl+R: the next older match; with no search going, start typing one."""
        finding = self.finding
        if finding is None or finding.current not in self.conversations.current.log.entries:
            self.chat_input.load("/search ")
            self.chat_input.focus()
            return
        finding.older()
        self._show_found(tell=True)

    def _show_found(self, tell: bool) -> None:
        assert self.finding is not None
        entry = self.finding.current
        if entry is not None:
            self.chat_log.show_entry(entry)
        if tell:
            self.notify(self.finding.status(), severity="information" if entry else "warning")

    def action_redraw(self) -> None:
        # Something else wrote to the terminal (a wall message, a crashed pager): paint it all.
        self.app.refresh(repaint=True, layout=True)

    def action_confirm_quit(self) -> None:
        def answered(quit_: bool | None) -> None:
            if quit_:
                self.post_message(QuitRequested())

        self.app.push_screen(Confirm("Leave the chat?", "Leave", "Stay"), answered)

    def _pane(self, pane: str) -> Widget:
        return self.user_list if pane == "users" else self.room_list

    def action_toggle_pane(self, pane: str) -> None:
        """Show or hide a list; the choice overrides the width's (and is remembered)."""
        widget = self._pane(pane)
        widget.display = not widget.display
        self.post_message(PaneToggled(pane, widget.display))

    def action_page(self, direction: int) -> None:
        if direction < 0:
            if self.chat_log.scroll_y <= 0:
                self.chat_log.reached_top()
            self.chat_log.scroll_page_up(animate=False)
        else:
            self.chat_log.scroll_page_down(animate=False)

    def action_latest(self) -> None:
        self.chat_log.scroll_to_latest()
