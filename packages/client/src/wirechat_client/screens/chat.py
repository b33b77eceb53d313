"""The chat screen: shows what the network reports, and turns typed lines into requests.

It owns no connection. The App hands it batches of events (:meth:`ChatScreen.show`) and our
own lines (:meth:`ChatScreen.add_own`); what the user asks for goes up to the App as the
messages of :mod:`wirechat_client.messages`. Which conversation an event belongs to is the
business of :class:`~wirechat_client.feed.Feed`; this screen keeps the widgets in step with
the conversation shown.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import tzinfo

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Footer, Input

from wirechat_common import (
    DEFAULT_ROOM,
    MAX_TEXT_BYTES,
    GetHistory,
    name_key,
    people_here,
)

from ..activity import Activity, hotlist
from ..address import Address
from ..blocks import parse_block
from ..commands import Parsed, Run, Search
from ..config import ClientConfig
from ..conversation import Conversation, Kind
from ..conversations import Conversations
from ..events import Connecting, Disconnected, LinkState, NetEvent, Registered, Request
from ..feed import Feed
from ..line_actions import LineActions
from ..lines import LineKind
from ..messages import ActivityChanged, Alerted, ServerRequested
from ..nick_colors import NickColors
from ..widgets.chat_input import ChatInput
from ..widgets.chat_log import ChatLog
from ..widgets.draft_view import DraftView
from ..widgets.room_list import RoomItem, RoomList
from ..widgets.status_bar import StatusBar
from ..widgets.topic_bar import TopicBar
from ..widgets.unread_badge import UnreadBadge
from ..widgets.user_list import UserList
from .chat_keys import ChatKeys
from .confirm import Confirm


class ChatScreen(ChatKeys):
    """Conversation list, topic, log, user list and input, under a status bar."""

    # The lists give their room to the log: the user list under 100 columns (at 80 the log
    # then has 63, not 47), both under 64. F2 and F3 still show them, and once pressed the
    # user's choice holds at any width.
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (64, "-medium"), (100, "-wide")]

    def __init__(
        self,
        address: Address,
        me: str,
        *,
        clock: Callable[[], float],
        tz: tzinfo | None,
        config: ClientConfig | None = None,
        panes: Mapping[str, bool] | None = None,
    ) -> None:
        """``panes``: the user's choices of F2 (``users``) and F3 (``rooms``), if made."""
        super().__init__()
        self._panes = dict(panes or {})
        self.me = me
        self._config = config or ClientConfig()
        self._clock = clock
        self._tz = tz
        self._max_text_bytes = MAX_TEXT_BYTES
        self.max_history = 0
        self._offline = False  # the loss was reported; retries fail quietly until back
        self._early_logs: list[ChatLog] = []  # made before the screen was mounted
        self._logs_by_conversation: dict[Conversation, ChatLog] = {}
        self._logs = Vertical(id="logs")
        self.status_bar = StatusBar(id="status")
        self.status_bar.server = str(address)
        self.status_bar.me = me
        # One table of colours for the whole screen: a person has one colour everywhere.
        self.nick_colors = NickColors(custom=self._config.nick_palette)
        self.room_list = RoomList(id="rooms")
        self.room_list.nick_colors = self.nick_colors
        self.topic_bar = TopicBar(id="topic")
        self.unread_badge = UnreadBadge(id="unread")
        self.user_list = UserList(id="users")
        self.user_list.nick_colors = self.nick_colors
        self.conversations = Conversations(
            self._added,
            self._dropped,
            self.now,
            tz,
            self._config.timestamp_format,
            self._config.smart_filter_minutes * 60_000,
        )
        self.feed = Feed(self.conversations, me, self._config.highlight_words)
        self._actions = LineActions(self.conversations, self.feed, self.post_message)
        self.chat_input = ChatInput(
            # Nobody completes their own name: Tab offers the others.
            lambda: [name for name in self.user_list.names if name_key(name) != name_key(self.me)],
            rooms=lambda: sorted({**self.feed.rooms, **self._joined_rooms()}.values()),
            everyone=lambda: list(self.feed.everyone.values()),
            placeholder="/help for commands",
            id="input",
        )
        self.draft_view = DraftView(id="draft")
        self._shown: Conversation | None = None
        self._shown_users: tuple[str, int, str] | None = None
        self._activity: Activity | None = None

    def compose(self) -> ComposeResult:
        yield self.status_bar
        with Horizontal(id="body"):
            yield self.room_list
            with Vertical(id="log-pane"):
                yield self.topic_bar
                with self._logs:
                    yield from self._early_logs
                yield self.unread_badge
            yield self.user_list
        yield self.draft_view
        yield self.chat_input
        yield Footer()

    def on_mount(self) -> None:
        self._early_logs.clear()
        for pane, shown in self._panes.items():
            self._pane(pane).display = shown
        self.chat_input.focus()
        self.app.theme_changed_signal.subscribe(self, lambda _: self._recolor())
        # A terminal that reports focus (most do, tmux with focus-events on) tells when the
        # user looks elsewhere: what arrives meanwhile goes under the read marker.
        self.watch(self.app, "app_focus", lambda _: self._sync(), init=False)
        self._sync()

    def _recolor(self) -> None:
        self.user_list.refresh_colors()
        self.room_list.refresh_colors()

    # -- the conversations' widgets -----------------------------------------------------------

    def _added(self, conversation: Conversation) -> None:
        log = ChatLog(
            conversation.log,
            tz=self._tz,
            time_format=self._config.timestamp_format,
            nick_colors=self.nick_colors,
        )
        log.display = False
        self._logs_by_conversation[conversation] = log
        if self.is_mounted:
            self._logs.mount(log)
        else:
            self._early_logs.append(log)

    def _dropped(self, conversation: Conversation) -> None:
        self._logs_by_conversation.pop(conversation).remove()

    @property
    def current(self) -> Conversation:
        return self.conversations.current

    @property
    def chat_log(self) -> ChatLog:
        """The log shown."""
        return self._logs_by_conversation[self.conversations.current]

    def _joined_rooms(self) -> dict[str, str]:
        return {c.key: c.name for c in self.conversations.listed() if c.kind is Kind.ROOM}

    def _sync(self) -> None:
        """Bring the widgets in step with the conversations (after any change)."""
        current = self.conversations.current
        if self._shown is not None and current is not self._shown:
            self._shown.reading = False
        current.reading = self.app.app_focus
        if current is not self._shown:
            # The conversation shown before may have been dropped, its log with it.
            hidden = self._logs_by_conversation.get(self._shown) if self._shown else None
            if hidden is not None:
                hidden.display = False
            shown = self._logs_by_conversation[current]
            shown.display = True
            self._shown = current
            if hidden is not None:
                hidden.highlight("")  # a search is over when its conversation is left
            self.finding = None
            self.unread_badge.count = shown.unread
            self.chat_input.placeholder = {
                Kind.ROOM: f"Message {current.name} · /help for commands",
                Kind.DIRECT: f"Message {current.name} directly · /help for commands",
                Kind.HOME: "/join #ROOM to talk · /help for commands",
            }[current.kind]
        current.seen()
        self.room_list.show(
            [
                RoomItem(c.key, c.name, c.kind is Kind.DIRECT, c.unread, c.mentioned)
                for c in self.conversations.listed()
            ],
            current.key,
        )
        self._sync_activity()
        users = current.users if current.kind is Kind.ROOM else []
        if current.kind is Kind.DIRECT:
            users = sorted({self.me, current.name}, key=str.lower)
        signature = (current.key, current.users_version, self.me)
        if signature != self._shown_users:
            self._shown_users = signature
            self.nick_colors.present(users)
            self.user_list.set_users(users, self.me)
        hint = {
            Kind.ROOM: "no topic (/topic TEXT sets one)",
            Kind.DIRECT: "direct messages",
            Kind.HOME: "not in any room: /join #ROOM",
        }[current.kind]
        if current.kind is Kind.ROOM and not current.joined:
            hint = f"not in this room: /join {current.name}"
        self.topic_bar.show(current.name, current.topic, hint)

    def _sync_activity(self) -> None:
        hot = tuple(hotlist(self.conversations))
        self.status_bar.hotlist = hot
        activity = Activity.of(hot)
        if activity != self._activity:
            self._activity = activity
            self.post_message(ActivityChanged(activity))

    # -- data from the App ------------------------------------------------------------------

    def now(self) -> int:
        return int(self._clock() * 1000)

    def note(self, text: str, kind: LineKind = LineKind.INFO) -> None:
        """A local line in the conversation shown: help, a refused command, a notice."""
        self.current.note(text, kind)

    def add_own(self, conversation: str, text: str, action: bool, client_id: str) -> None:
        """Show a line we sent; its time appears when the server acknowledges it."""
        self.feed.add_own(
            self.conversations.get(conversation) or self.current, text, action, client_id
        )

    def add_refused(self, conversation: str, text: str, action: bool, reason: str) -> None:
        """Show a line that could not be sent at all, and why."""
        self.feed.add_refused(
            self.conversations.get(conversation) or self.current, text, action, reason
        )

    def request_failed(self, request: Request) -> None:
        """The App could not send ``request``: we are offline."""
        if isinstance(request, GetHistory):
            for conversation in self.conversations.all():
                if conversation.target == request.room:
                    conversation.stop_loading()
            return
        self.note("Offline: try again once reconnected.", LineKind.ERROR)

    def show(self, events: Sequence[NetEvent]) -> None:
        """Show a batch of network events (messages: one log update per conversation)."""
        for event in events:
            match event:
                case Registered():
                    self.feed.flush()
                    self._registered(event)
                case Connecting(attempt=attempt):
                    detail = f"attempt {attempt + 1}" if attempt else ""
                    self._set_state(LinkState.CONNECTING, detail)
                case Disconnected():
                    self.feed.flush()
                    self._disconnected(event)
                case _:
                    self.feed.show(event)
        self.feed.flush()
        self._sync()
        alerts = self.feed.take_alerts()
        if alerts:
            self.post_message(Alerted(alerts))

    def _registered(self, event: Registered) -> None:
        welcome = event.welcome
        self.me = self.feed.me = self.status_bar.me = welcome.name
        self._max_text_bytes = welcome.max_text_bytes or MAX_TEXT_BYTES
        self.max_history = welcome.max_history
        self.feed.saw(welcome.users)
        self.user_list.remove_class("-offline")
        self._set_state(LinkState.ONLINE, "")
        self._offline = False
        if event.reconnected:
            for conversation in self.conversations.all():
                conversation.close_gap()
            self.note(f"Reconnected as {welcome.name}.")
            return
        # A first hello puts us in the lobby (its room frame, if the server sends one, follows).
        lobby = self.conversations.room(DEFAULT_ROOM)
        lobby.joined = True
        if not lobby.users:
            lobby.set_users(welcome.users)
        self.conversations.current = lobby
        server = f" ({welcome.server})" if welcome.server else ""
        online = people_here(welcome.users, welcome.online, verb="online")
        lobby.note(
            f"Connected to {self.status_bar.server}{server} as {welcome.name}. "
            f"{online}. Type /help for commands and keys."
        )

    def _disconnected(self, event: Disconnected) -> None:
        self.user_list.add_class("-offline")
        for conversation in self.conversations.all():
            conversation.stop_loading()  # that page will not come: scroll up again later
        if event.retry_in is None:
            self.feed.give_up()
            self._set_state(LinkState.CLOSED, "")
            self.note(f"Disconnected: {event.reason}.", LineKind.ERROR)
            return
        self._set_state(LinkState.OFFLINE, f"retry in {event.retry_in:.1f} s")
        if self._offline:
            return  # a failed retry: the status bar says enough, the log stays readable
        self._offline = True
        for conversation in self.conversations.all():
            conversation.mark_gap()
        self.note(
            f"Connection lost: {event.reason}. Reconnecting in {event.retry_in:.1f} s; "
            "you can keep typing.",
            LineKind.ERROR,
        )

    def _set_state(self, state: LinkState, detail: str) -> None:
        self.status_bar.state = state
        self.status_bar.detail = detail

    # -- the user's input -------------------------------------------------------------------

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        # The input has already cleared itself and kept the line in its history: clearing it
        # here would throw away what was typed after Enter while this message was on its way.
        parsed = parse_block(event.value, self._max_text_bytes)
        limit = self._config.paste_confirm_lines
        if limit and len(parsed) > limit:
            question = f"Send these {len(parsed)} lines to {self.current.name}, one message each?"

            def answered(send: bool | None) -> None:
                if send:
                    self._run(parsed)
                elif not self.chat_input.text:
                    self.chat_input.load(event.value)  # back to the input, to edit or drop

            self.app.push_screen(Confirm(question, "Send", "Edit"), answered)
            return
        self._run(parsed)

    def _run(self, lines: list[Parsed]) -> None:
        for parsed in lines:
            if parsed == Run("/help"):
                self.action_help()
            elif parsed == Run("/clear"):
                self.clear_log()
            elif parsed == Run("bye"):
                self.action_confirm_quit()
            elif isinstance(parsed, Search):
                self.search(parsed.text)
            else:
                self._actions.run(parsed)
        self._sync()

    def on_chat_input_draft_changed(self, event: ChatInput.DraftChanged) -> None:
        self.draft_view.show(event.lines)

    # -- widgets' messages and key actions ----------------------------------------------------

    def on_room_list_chosen(self, event: RoomList.Chosen) -> None:
        chosen = self.conversations.get(event.key)
        if chosen is not None:
            self.conversations.current = chosen
            self._sync()
        self.chat_input.focus()

    def on_user_list_mention_requested(self, event: UserList.MentionRequested) -> None:
        self.chat_input.insert_mention(event.name)

    def on_chat_log_unread_changed(self, event: ChatLog.UnreadChanged) -> None:
        if event.log is self.chat_log:
            self.unread_badge.count = event.count

    def on_chat_log_reached_top(self, event: ChatLog.ReachedTop) -> None:
        if event.log is not self.chat_log:
            return
        request = self.current.want_older(self.max_history)
        if request is not None:
            self.post_message(ServerRequested(request))

    def on_unread_badge_pressed(self) -> None:
        self.action_latest()
