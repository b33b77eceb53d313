"""The server's chat traffic, put into the right conversations.

Messages go to their room, or to the conversation with the other person of a direct message;
presence and topics to their room; our own lines wait in their conversation for the ack (or
the refusal) that settles them. Answers with no conversation of their own (``/rooms``, errors)
go to the conversation shown.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from wirechat_common import (
    DEFAULT_ROOM,
    LOG_LEAVE_WORDING,
    Ack,
    Error,
    ErrorCode,
    Joined,
    LeaveReason,
    Left,
    Message,
    RoomInfo,
    RoomList,
    Topic,
    Users,
    name_key,
    people_here,
    room_key,
    sanitize_text,
)

from .activity import Alert
from .conversation import Conversation, Kind, message_entry
from .conversations import Conversations
from .events import PAGE_ERRORS, HistoryPage, NetEvent, refused_room
from .lines import PENDING, LineKind, LogEntry, make_entry
from .resume import ALL_DIRECT, PageKind


class Feed:
    """Routes events to conversations; remembers our lines awaiting an answer."""

    def __init__(
        self, conversations: Conversations, me: str, highlights: Sequence[str] = ()
    ) -> None:
        self.conversations = conversations
        self.me = me
        self.highlights = tuple(highlights)  # words that count as mentioning us
        self.everyone: dict[str, str] = {}  # every name seen, by key: for /msg completion
        self.rooms: dict[str, str] = {}  # every room seen, by key: for /join completion
        self.join_wanted: set[str] = set()  # rooms the user asked to join: shown once joined
        self.direct_wanted: set[str] = set()  # /msg NAME: opened once "who" says NAME is on
        # Direct conversations opened by "/msg NAME TEXT", until the server takes a line in
        # them, with the conversation shown before: they close if NAME is not connected.
        self.tentative: dict[Conversation, Conversation] = {}
        self._pending: dict[str, tuple[Conversation, LogEntry]] = {}
        self._batch: dict[Conversation, list[LogEntry]] = {}  # messages not yet shown
        self._alerts: list[Alert] = []  # live mentions and direct messages, not yet taken

    def saw(self, names: Iterable[str]) -> None:
        for name in names:
            self.everyone[name_key(name)] = sanitize_text(name)

    # -- our own lines ------------------------------------------------------------------------

    def add_own(self, conversation: Conversation, text: str, action: bool, client_id: str) -> None:
        """Show a line we sent; its time appears when the server acknowledges it."""
        kind = LineKind.ACTION if action else LineKind.MESSAGE
        order = (PENDING, conversation.local_order()[1])
        entry = make_entry(kind, text, nick=self.me, own=True, order=order)
        self._pending[client_id] = (conversation, entry)
        conversation.log.add((entry,))

    def add_refused(self, conversation: Conversation, text: str, action: bool, reason: str) -> None:
        """Show a line we could not even send, under the lines still waiting before it."""
        kind = LineKind.ACTION if action else LineKind.MESSAGE
        waiting = [entry for where, entry in self._pending.values() if where is conversation]
        order = conversation.local_order()
        if waiting:
            order = (PENDING, order[1])
        entry = make_entry(kind, text, nick=self.me, own=True, order=order)
        entry.failed, entry.failure = True, reason
        conversation.log.add((entry,))
        if waiting:
            conversation.follow(waiting[-1], entry)

    def give_up(self) -> None:
        """The connection is over for good: lines still waiting will not be confirmed."""
        pending, self._pending = self._pending, {}
        for conversation, entry in pending.values():
            entry.failed = True
            conversation.log.changed(entry)

    def forget(self, conversation: Conversation) -> None:
        """``conversation`` was cleared or closed: stop waiting for answers about its lines."""
        self._pending = {
            client_id: waiting
            for client_id, waiting in self._pending.items()
            if waiting[0] is not conversation
        }

    # -- the server's traffic -----------------------------------------------------------------

    def show(self, event: NetEvent) -> None:
        """Show ``event``. Messages are gathered, so that a burst costs each log one update:
        call :meth:`flush` at the end of a batch (any other event flushes them first)."""
        if isinstance(event, Message):
            conversation = self._conversation_of(event)
            self._seen(event.sender)
            self._batch.setdefault(conversation, []).append(self._entry(event))
            return
        self.flush()
        match event:
            case HistoryPage():
                self._page(event)
            case Ack(client_id=client_id, id=message_id, ts=ts, duplicate=duplicate):
                waiting = self._pending.pop(client_id or "", None)
                if waiting is not None:
                    self.tentative.pop(waiting[0], None)
                    waiting[0].confirm(waiting[1], message_id, ts, duplicate)
            case Error():
                self._error(event)
            case Joined():
                self._joined(event)
            case Left():
                self._left(event)
            case Users(users=users, room=room):
                self._users(users, room)
            case RoomInfo():
                self._room_info(event)
            case Topic():
                self._topic(event)
            case RoomList():
                self._room_list(event)
            case _:
                pass

    def _entry(self, message: Message) -> LogEntry:
        return message_entry(message, self.me, self.highlights)

    def _seen(self, name: str) -> None:
        self.saw((name,))

    def _presence(
        self,
        conversation: Conversation,
        kind: LineKind,
        words: str,
        name: str,
        ts: int,
        reason: str = "",
    ) -> None:
        text = words if kind is not LineKind.INFO else f"{name} {words}"
        mine = name_key(name) == name_key(self.me)
        conversation.presence.line(kind, text, name, ts, reason=reason, keep=mine)

    def _conversation_of(self, message: Message) -> Conversation:
        if message.to is None:
            return self.conversations.room(message.room or DEFAULT_ROOM)
        peer = message.to if name_key(message.sender) == name_key(self.me) else message.sender
        self._seen(peer)
        return self.conversations.direct(peer)

    def flush(self) -> None:
        """Show the messages gathered by :meth:`show`."""
        batch, self._batch = self._batch, {}
        for conversation, entries in batch.items():
            current = conversation is self.conversations.current
            placed = conversation.add_messages(entries, count=not current, live=True)
            # Only live messages alert: a replay after a reconnection is not news of the moment.
            room = conversation.name if conversation.kind is Kind.ROOM else None
            self._alerts.extend(
                Alert(entry.nick, entry.text, room)
                for entry in placed
                if not entry.own and (entry.mention or room is None)
            )

    def take_alerts(self) -> list[Alert]:
        """The mentions and direct messages shown since the last call."""
        alerts, self._alerts = self._alerts, []
        return alerts

    def _page(self, page: HistoryPage) -> None:
        count = page.kind is PageKind.MISSED
        if page.room == ALL_DIRECT:  # all our direct messages: one conversation per peer
            by_peer: dict[str, tuple[Conversation, list[LogEntry]]] = {}
            for message in page.messages:
                conversation = self._conversation_of(message)
                by_peer.setdefault(conversation.key, (conversation, []))[1].append(
                    self._entry(message)
                )
            for conversation, entries in by_peer.values():
                current = conversation is self.conversations.current
                conversation.add_messages(entries, count=count and not current)
            return
        if page.room.startswith("@"):
            conversation = self.conversations.direct(page.room[1:])
        else:
            existing = self.conversations.find_room(page.room)
            if existing is None:
                return  # a room we left meanwhile
            conversation = existing
        entries = [self._entry(message) for message in page.messages]
        current = conversation is self.conversations.current
        if page.kind is PageKind.MISSED:
            conversation.add_messages(entries, count=not current)
        else:
            rejoined = page.kind is PageKind.JOIN and conversation.rejoined
            conversation.rejoined = False
            conversation.older_page(entries, page.more, count=rejoined and not current)

    def _error(self, error: Error) -> None:
        waiting = self._pending.pop(error.client_id or "", None)
        if waiting is not None and self._not_connected(error, *waiting):
            return
        if waiting is not None:  # that line of ours did not go out
            waiting[0].refuse(waiting[1], error.detail or error.code)
        room = refused_room(error)
        if room is not None:
            self._not_in(room, error, noted=waiting is not None)
            return
        if waiting is not None:
            return
        about = self._named(error.room) if error.room else None
        if error.code in PAGE_ERRORS:  # a page that will not come: scroll up to try again
            for conversation in [about] if about is not None else self.conversations.all():
                conversation.stop_loading()
        (about or self.conversations.current).note(
            f"server: {error.detail or error.code} ({error.code})", LineKind.ERROR
        )

    def _not_connected(self, error: Error, conversation: Conversation, entry: LogEntry) -> bool:
        """A line to someone not connected, in a conversation "/msg" opened for it: the
        conversation goes (unless something else came into it), the line is noted where the
        user was."""
        previous = self.tentative.pop(conversation, None)
        if error.code != ErrorCode.NO_SUCH_USER or previous is None:
            return False
        if any(e.id is not None or (e.own and e is not entry) for e in conversation.log.entries):
            return False
        self.forget(conversation)
        self.conversations.drop(conversation)
        if self.conversations.get(previous.key) is previous or previous is self.conversations.home:
            self.conversations.current = previous
        self.conversations.current.note(
            f"Not sent: {conversation.name} is not connected ({entry.text}).", LineKind.ERROR
        )
        return True

    def _not_in(self, room: str, error: Error, *, noted: bool) -> None:
        """The server says we are not in ``room`` (a join or resume refused, or not a member):
        its conversation stays readable, but is no longer joined."""
        self.join_wanted.discard(room_key(room))
        detail = f"{error.detail or error.code} ({error.code})"
        conversation = self.conversations.find_room(room)
        if conversation is None:  # a join refused: there is nothing of it to show
            self.conversations.current.note(
                f"Could not join {sanitize_text(room)}: {detail}", LineKind.ERROR
            )
            return
        was_joined = conversation.joined
        conversation.joined = False
        conversation.topic = ""
        conversation.set_users(())
        conversation.stop_loading()
        if was_joined or not noted:
            conversation.note(
                f"Not in this room: {detail}. /join {conversation.name} to try again.",
                LineKind.ERROR,
            )

    def _named(self, room: str) -> Conversation | None:
        """The conversation an error names: a room, ``@peer``, or none for ``@``."""
        if room.startswith("@"):
            return self.conversations.find_direct(room[1:]) if len(room) > 1 else None
        return self.conversations.find_room(room)

    def _joined(self, joined: Joined) -> None:
        self._seen(joined.name)
        conversation = self.conversations.find_room(joined.room or DEFAULT_ROOM)
        if conversation is not None:
            conversation.add_user(joined.name)
            self._presence(conversation, LineKind.JOIN, "joined", joined.name, joined.ts)

    def _topic(self, topic: Topic) -> None:
        conversation = self.conversations.find_room(topic.room)
        if conversation is not None:
            conversation.topic = topic.topic
            words = f"set the topic: {topic.topic}" if topic.topic else "cleared the topic"
            self._presence(conversation, LineKind.INFO, words, topic.by, topic.ts)

    def _left(self, left: Left) -> None:
        conversation = self.conversations.find_room(left.room or DEFAULT_ROOM)
        if conversation is None:
            return
        if name_key(left.name) == name_key(self.me) and left.reason == LeaveReason.PART:
            self.forget(conversation)
            self.conversations.drop(conversation)
            self.conversations.current.note(f"You left {conversation.name}.")
            return
        conversation.remove_user(left.name)
        # Reasons are open-ended: one this client does not know is shown as it is.
        words = LOG_LEAVE_WORDING.phrase(left.reason)
        self._presence(conversation, LineKind.LEAVE, words, left.name, left.ts, left.reason)

    def _users(self, users: list[str], room: str | None) -> None:
        for name in users:
            self._seen(name)
        conversation = self.conversations.find_room(room) if room else None
        if conversation is None and self.direct_wanted:
            self._direct_wanted(users)
            return
        if conversation is None:
            self.conversations.current.note(people_here(users, verb="connected"))
            return
        conversation.set_users(users)
        conversation.note(people_here(users))

    def _direct_wanted(self, connected: list[str]) -> None:
        """The answer to the "who" a "/msg NAME" asked."""
        here = {name_key(name) for name in connected}
        for name in sorted(self.direct_wanted):
            if name_key(name) in here:
                self.conversations.current = self.conversations.direct(name)
            else:
                self.conversations.current.note(f"{sanitize_text(name)} is not connected.")
        self.direct_wanted.clear()

    def _room_info(self, info: RoomInfo) -> None:
        for name in info.users:
            self._seen(name)
        key = room_key(info.room)
        self.rooms[key] = sanitize_text(info.room)
        existing = self.conversations.find_room(info.room)
        new = existing is None or not existing.joined  # first time, or back after a refusal
        conversation = self.conversations.room(info.room)
        conversation.rejoined = not new  # its page, after a reconnection, is news
        conversation.name = sanitize_text(info.room)
        conversation.joined = True
        conversation.set_users(info.users)
        conversation.topic = info.topic
        if key in self.join_wanted:
            self.join_wanted.discard(key)
            self.conversations.current = conversation
        if new:
            topic = f" Topic: {info.topic}" if info.topic else ""
            conversation.note(f"You joined {info.room}. {people_here(info.users)}.{topic}")

    def _room_list(self, room_list: RoomList) -> None:
        lines = [f"{len(room_list.rooms)} rooms (/join #ROOM to join one):"]
        for summary in room_list.rooms:
            self.rooms[room_key(summary.room)] = sanitize_text(summary.room)
            joined = " (joined)" if self.conversations.find_room(summary.room) else ""
            topic = f": {summary.topic}" if summary.topic else ""
            people = "1 user" if summary.users == 1 else f"{summary.users} users"
            lines.append(f"  {summary.room} · {people}{joined}{topic}")
        if room_list.more and room_list.rooms:
            last = room_list.rooms[-1].room
            lines.append(f"  … more rooms after these: /rooms {sanitize_text(last)}")
        current = self.conversations.current
        for line in lines:
            current.note(line)
