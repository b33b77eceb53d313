"""The chat screen: shows what the network reports, and turns typed lines into requests.

It owns no connection. The App hands it batches of events (:meth:`ChatScreen.show`) and our
own lines (:meth:`ChatScreen.add_own`); what the user asks for goes up to the App as the
messages of :mod:`wirechat_client.messages`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime, tzinfo
from typing import ClassVar, Final

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Input

from wirechat_common import MAX_TEXT_BYTES, Ack, Error, Joined, LeaveReason, Left, Message, Users

from ..address import Address
from ..commands import Invalid, Run, Send, help_lines, parse_line
from ..events import Connecting, Disconnected, LinkState, NetEvent, Registered
from ..lines import LineKind, LogEntry, make_entry, mentions
from ..messages import QuitRequested, SendRequested, WhoRequested
from ..widgets.chat_input import ChatInput
from ..widgets.chat_log import ChatLog
from ..widgets.status_bar import StatusBar
from ..widgets.unread_badge import UnreadBadge
from ..widgets.user_list import UserList

#: Names listed in a "N here: ..." line before "and N more".
NAMES_SHOWN: Final = 20

_LEFT_WORDS: Final[dict[str, str]] = {
    LeaveReason.QUIT: "left",
    LeaveReason.DROPPED: "left (connection lost)",
    LeaveReason.TIMEOUT: "left (timed out)",
    LeaveReason.TOO_SLOW: "left (too slow to keep up)",
    LeaveReason.FLOOD: "left (cut off for flooding)",
    LeaveReason.KICKED: "left (kicked)",
    LeaveReason.SHUTDOWN: "left (server shutting down)",
}


def _here(names: Sequence[str]) -> str:
    shown = ", ".join(names[:NAMES_SHOWN])
    if len(names) > NAMES_SHOWN:
        shown += f" and {len(names) - NAMES_SHOWN} more"
    return f"{len(names)} here: {shown}"


class ChatScreen(Screen[None]):
    """Log, user list and input, under a status bar."""

    # Under 64 columns the user list gives its room to the log (F2 still shows it).
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (64, "-wide")]

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f1", "help", "Help"),
        Binding("f2", "toggle_users", "Users"),
        Binding("ctrl+l", "clear", "Clear"),
        Binding("pageup", "page(-1)", "Scroll up", show=False),
        Binding("pagedown", "page(1)", "Scroll down", show=False),
        Binding("ctrl+end", "latest", "Latest", show=False),
    ]

    def __init__(
        self, address: Address, me: str, *, clock: Callable[[], float], tz: tzinfo | None
    ) -> None:
        super().__init__()
        self.me = me
        self._clock = clock
        self._max_text_bytes = MAX_TEXT_BYTES
        self._pending: dict[str, LogEntry] = {}  # client_id -> our line awaiting its ack
        self._day: date | None = None  # the day of the last dated line shown
        self._offline = False  # the loss was reported; retries fail quietly until back
        self.status_bar = StatusBar(id="status")
        self.status_bar.server = str(address)
        self.status_bar.me = me
        self.chat_log = ChatLog(tz=tz, id="log")
        self.unread_badge = UnreadBadge(id="unread")
        self.user_list = UserList(id="users")
        self.chat_input = ChatInput(
            lambda: self.user_list.names,
            placeholder="Message everyone · /help for commands",
            id="input",
        )

    def compose(self) -> ComposeResult:
        yield self.status_bar
        with Horizontal(id="body"):
            with Vertical(id="log-pane"):
                yield self.chat_log
                yield self.unread_badge
            yield self.user_list
        yield self.chat_input
        yield Footer()

    def on_mount(self) -> None:
        self.chat_input.focus()
        self.app.theme_changed_signal.subscribe(self, lambda _: self.user_list.refresh_colors())

    # -- data from the App ------------------------------------------------------------------

    def now(self) -> int:
        return int(self._clock() * 1000)

    def note(self, text: str, kind: LineKind = LineKind.INFO) -> None:
        """A local line: help, a refused command, a network notice."""
        self.chat_log.append(make_entry(kind, text, ts=self.now()))

    def add_own(self, text: str, action: bool, client_id: str) -> None:
        """Show a line we sent; its time appears when the server acknowledges it."""
        entry = make_entry(
            LineKind.ACTION if action else LineKind.MESSAGE, text, nick=self.me, own=True
        )
        self._pending[client_id] = entry
        self.chat_log.append(entry)

    def show(self, events: Sequence[NetEvent]) -> None:
        """Show a batch of network events: one log update for the whole batch."""
        entries: list[LogEntry] = []
        for event in events:
            entry = self._entry_for(event)
            if entry is not None:
                entries.extend(self._dated(entry))
        self.chat_log.extend(entries)

    def _dated(self, entry: LogEntry) -> list[LogEntry]:
        """``entry``, after a "day changed" line if it is the first of a new day (times in
        the log show only hours and minutes)."""
        if entry.ts is None:
            return [entry]
        day = datetime.fromtimestamp(entry.ts / 1000, self.chat_log.tz).date()
        previous, self._day = self._day, day
        if previous is None or day == previous:
            return [entry]
        change = make_entry(LineKind.INFO, f"Day changed to {day:%A %-d %B %Y}", ts=entry.ts)
        return [change, entry]

    def _entry_for(self, event: NetEvent) -> LogEntry | None:
        match event:
            case Message(sender=sender, text=text, action=action, ts=ts):
                kind = LineKind.ACTION if action else LineKind.MESSAGE
                return make_entry(kind, text, nick=sender, ts=ts, mention=mentions(text, self.me))
            case Ack(client_id=client_id, ts=ts):
                entry = self._pending.pop(client_id or "", None)
                if entry is not None:
                    entry.ts = ts
                    self.chat_log.redraw(entry)
            case Joined(name=name, ts=ts):
                self.user_list.add_user(name)
                return make_entry(LineKind.JOIN, "joined", nick=name, ts=ts)
            case Left(name=name, reason=reason, ts=ts):
                self.user_list.remove_user(name)
                # Reasons are open-ended: one this client does not know is shown as it is.
                words = _LEFT_WORDS.get(reason, f"left ({reason})")
                return make_entry(LineKind.LEAVE, words, nick=name, ts=ts)
            case Users(users=users):
                self.user_list.set_users(users)
                return make_entry(LineKind.INFO, _here(users), ts=self.now())
            case Error(code=code, detail=detail, client_id=client_id):
                refused = self._pending.pop(client_id or "", None)
                if refused is not None:  # that line of ours did not go out: show it as failed
                    refused.failed = True
                    self.chat_log.redraw(refused)
                return make_entry(
                    LineKind.ERROR, f"server: {detail or code} ({code})", ts=self.now()
                )
            case Registered():
                return self._registered(event)
            case Connecting(attempt=attempt):
                self._set_state(LinkState.CONNECTING, f"attempt {attempt + 1}" if attempt else "")
            case Disconnected():
                return self._disconnected(event)
        return None

    def _registered(self, event: Registered) -> LogEntry:
        welcome = event.welcome
        self.me = self.status_bar.me = welcome.name
        self._max_text_bytes = welcome.max_text_bytes or MAX_TEXT_BYTES
        self.user_list.set_users(welcome.users, welcome.name)
        self.user_list.remove_class("-offline")
        self._set_state(LinkState.ONLINE, "")
        self._offline = False
        if event.reconnected:
            text = f"Reconnected as {welcome.name}. {_here(welcome.users)}."
        else:
            server = f" ({welcome.server})" if welcome.server else ""
            text = (
                f"Connected to {self.status_bar.server}{server} as {welcome.name}. "
                f"{_here(welcome.users)}. Type /help for commands and keys."
            )
        return make_entry(LineKind.INFO, text, ts=self.now())

    def _disconnected(self, event: Disconnected) -> LogEntry | None:
        for client_id in event.unconfirmed:
            entry = self._pending.pop(client_id, None)
            if entry is not None:
                entry.failed = True
                self.chat_log.redraw(entry)
        self.user_list.add_class("-offline")
        if event.retry_in is None:
            self._set_state(LinkState.CLOSED, "")
            return make_entry(LineKind.ERROR, f"Disconnected: {event.reason}.", ts=self.now())
        self._set_state(LinkState.OFFLINE, f"retry in {event.retry_in:.1f} s")
        if self._offline:
            return None  # a failed retry: the status bar says enough, the log stays readable
        self._offline = True
        return make_entry(
            LineKind.ERROR,
            f"Connection lost: {event.reason}. Reconnecting in {event.retry_in:.1f} s; "
            "you can keep typing.",
            ts=self.now(),
        )

    def _set_state(self, state: LinkState, detail: str) -> None:
        self.status_bar.state = state
        self.status_bar.detail = detail

    # -- the user's input -------------------------------------------------------------------

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        line = event.value
        self.chat_input.value = ""
        parsed = parse_line(line, self._max_text_bytes)
        if parsed is None:
            return
        self.chat_input.remember(line)
        match parsed:
            case Send(text=text, action=action):
                self.post_message(SendRequested(text, action))
            case Invalid(reason=reason):
                self.note(reason, LineKind.ERROR)
            case Run(name="/help"):
                self.action_help()
            case Run(name="/clear"):
                self.action_clear()
            case Run(name="/who"):
                self.post_message(WhoRequested())
            case Run(name="/quit"):
                self.post_message(QuitRequested())

    def on_user_list_mention_requested(self, event: UserList.MentionRequested) -> None:
        self.chat_input.insert_mention(event.name)

    def on_chat_log_unread_changed(self, event: ChatLog.UnreadChanged) -> None:
        self.unread_badge.count = event.count

    def on_unread_badge_pressed(self) -> None:
        self.action_latest()

    def action_help(self) -> None:
        self.chat_log.extend(
            make_entry(LineKind.INFO, line, ts=self.now()) for line in help_lines()
        )

    def action_clear(self) -> None:
        self._pending.clear()
        self.chat_log.clear()

    def action_toggle_users(self) -> None:
        self.user_list.display = not self.user_list.display

    def action_page(self, direction: int) -> None:
        if direction < 0:
            self.chat_log.scroll_page_up(animate=False)
        else:
            self.chat_log.scroll_page_down(animate=False)

    def action_latest(self) -> None:
        self.chat_log.scroll_to_latest()
