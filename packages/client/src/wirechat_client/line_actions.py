"""What a typed line does: requests for the App (say, join, part, topic...), a change of the
conversation shown, or a note saying why not. Local commands (``/help``, ``/clear``) are the
screen's own."""

from __future__ import annotations

from collections.abc import Callable

from textual.message import Message

from wirechat_common import Join, ListRooms, Part, SetTopic, Who, room_key

from .commands import (
    ChangeTopic,
    Invalid,
    JoinRoom,
    ListRoomsFrom,
    Parsed,
    PartRoom,
    Run,
    Send,
    SendDirect,
)
from .conversation import Kind
from .conversations import Conversations
from .events import Request
from .feed import Feed
from .lines import LineKind
from .messages import QuitRequested, SendRequested, ServerRequested


class LineActions:
    """Carries out parsed lines in the conversation shown; ``post`` sends messages to the App."""

    def __init__(
        self, conversations: Conversations, feed: Feed, post: Callable[[Message], object]
    ) -> None:
        self.conversations = conversations
        self.feed = feed
        self.post_message = post

    def run(self, parsed: Parsed) -> None:
        match parsed:
            case Send(text=text, action=action):
                self._say(text, action)
            case Invalid(reason=reason):
                self._note(reason)
            case Run(name=name):
                self._run(name)
            case ListRoomsFrom(after=after):
                self._request(ListRooms(after=after))
            case JoinRoom(room=room):
                self._join(room)
            case PartRoom(room=room):
                self._part(room)
            case SendDirect(name=name, text=text):
                self._direct(name, text)
            case ChangeTopic(topic=topic):
                self._topic(topic)

    def _note(self, text: str) -> None:
        self.conversations.current.note(text, LineKind.ERROR)

    def _request(self, request: Request) -> None:
        self.post_message(ServerRequested(request))

    def _say(self, text: str, action: bool) -> None:
        current = self.conversations.current
        if current.kind is Kind.ROOM and not current.joined:
            self._note(f"Not sent: you are not in {current.name}. /join {current.name} first.")
        elif current.kind is Kind.ROOM:
            self.post_message(SendRequested(text, action, current.key, room=current.name))
        elif current.kind is Kind.DIRECT:
            self.post_message(SendRequested(text, action, current.key, to=current.name))
        else:
            self._note("Not sent: you are in no room. /join #ROOM first.")

    def _direct(self, name: str, text: str) -> None:
        """``/msg``: a conversation we have is shown at once. A new one is opened only for
        someone connected: without text, once ``who`` says they are; with text, at once, and
        closed again if the server answers ``no_such_user`` before anything else is in it."""
        existing = self.conversations.find_direct(name)
        if existing is not None:
            self.conversations.current = existing
        elif not text:
            self.feed.direct_wanted.add(name)
            self._request(Who())
            return
        else:
            previous = self.conversations.current
            self.conversations.current = self.conversations.direct(name)
            self.feed.tentative[self.conversations.current] = previous
        if text:
            self._say(text, False)

    def _run(self, name: str) -> None:
        current = self.conversations.current
        if name == "/who":  # in a room: who is in it; elsewhere: who is connected
            self._request(Who(room=current.name if current.kind is Kind.ROOM else None))
        elif name == "/quit":
            self.post_message(QuitRequested())

    def _join(self, room: str) -> None:
        existing = self.conversations.find_room(room)
        if existing is not None and existing.joined:
            self.conversations.current = existing
            return
        self.feed.join_wanted.add(room_key(room))
        self._request(Join(room=room))

    def _part(self, room: str | None) -> None:
        current = self.conversations.current
        if room is None and current.kind is Kind.DIRECT:  # closing a conversation is local
            self.feed.forget(current)
            self.conversations.drop(current)
        elif room is None and current.kind is Kind.HOME:
            self._note("You are in no room.")
        else:
            self._request(Part(room=room or current.name))

    def _topic(self, topic: str) -> None:
        current = self.conversations.current
        if current.kind is not Kind.ROOM:
            self._note("Topics belong to rooms: /join #ROOM first.")
        elif not topic:
            current.note(f"Topic of {current.name}: {current.topic or '(none)'}")
        else:
            self._request(SetTopic(room=current.name, topic=topic))
