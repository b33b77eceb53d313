"""What a session needs to resume without losing a message: cursors, the session token, and
which ``history`` page answers what. Pure bookkeeping, no I/O.

A cursor is the id up to which a conversation has been seen *without a gap*: the rooms' and the
direct messages' (``@``). ``hello`` hands them back to the server, which replays what came
after. A replay page with ``more`` set is followed by ``get_history{after}`` pages until caught
up; meanwhile live messages do not move the cursor (there is still a hole below them), so a
connection lost halfway resumes from the last page, not from the newest message. Ids are global
and increasing, so a room whose join page was empty (nothing stored) starts from the highest id
seen anywhere rather than from 0: a resume then asks for what came after it, page by page,
instead of for the recent messages only, which would lose the older part of a long absence.

``history`` frames echo only their room, so which request a page answers is told from the
stream's order (a server answers requests in turn): the frame right after a ``room`` frame is
that join's (or resume's) page, then comes the replay of ``@`` a resuming ``hello`` asked for,
and other pages answer our ``get_history`` requests in the order they were sent. A page the
server could not read comes as an ``error`` in its place (:meth:`ResumeState.page_failed`).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from wirechat_common import (
    DEFAULT_ROOM,
    Ack,
    GetHistory,
    Hello,
    History,
    Message,
    RoomInfo,
    Say,
    Welcome,
    name_key,
    room_key,
)

#: The conversation of all one's direct messages, as history pages and cursors name it.
ALL_DIRECT: Final = "@"


class PageKind(StrEnum):
    """What a ``history`` page is, which says which way its ``more`` points."""

    JOIN = "join"  # a room's recent messages, on joining: more = older ones exist
    OLDER = "older"  # asked with ``before`` (or for the recent ones): more = older ones exist
    MISSED = "missed"  # what came after a cursor: more = newer ones exist (we page on)


def target_key(target: str) -> str:
    """The identity of a history target: ``#Dev`` and ``#dev`` are one, ``@Bob`` and ``@bob``."""
    if target.startswith("@"):
        return ALL_DIRECT + name_key(target[1:])
    return room_key(target)


def conversation_of(message: Message) -> str:
    """The cursor a message moves: its room's, or ``@`` for a direct message."""
    if message.to is not None:
        return ALL_DIRECT
    return room_key(message.room or DEFAULT_ROOM)


@dataclass(slots=True)
class Cursor:
    """One conversation's position: ``last`` is seen without a gap."""

    room: str  # as the server spells it: sent back in hello and get_history
    last: int = 0
    catching_up: bool = False
    first_live: int = 0  # while catching up: the oldest and newest ids that arrived live
    last_live: int = 0

    def seen(self, message_id: int, *, live: bool = False) -> None:
        if not self.catching_up:
            # A live id below the cursor: the server's ids started again (a restart without
            # storage). Going back is safe: at worst a replay repeats what we have.
            self.last = (
                message_id if live and message_id < self.last else max(self.last, message_id)
            )
            return
        self.first_live = min(self.first_live or message_id, message_id)
        self.last_live = max(self.last_live, message_id)

    def stop_catching_up(self) -> None:
        """Caught up: what arrived live meanwhile follows on without a gap."""
        self.last = max(self.last, self.last_live)
        self.catching_up = False
        self.first_live = self.last_live = 0


class ResumeState:
    """The session token, the cursors, and the pages expected on the current connection."""

    def __init__(self) -> None:
        self.session: str | None = None
        self.max_history = 0
        self.registered = False  # once registered, hello names the rooms to rejoin
        self.high_water = 0  # the highest message id seen anywhere
        self._rooms: dict[str, Cursor] = {}  # by room key, in the order joined
        self._direct = Cursor(ALL_DIRECT)
        self._room_page: tuple[str, PageKind] | None = None  # announced by a room frame
        self._dm_replay = False  # a resuming hello asked for the direct messages missed
        self._resuming: dict[str, PageKind] = {}  # rooms in hello, before their room frame
        self._asked: deque[tuple[str, PageKind]] = deque()  # our get_history requests
        self._retry: set[str] = set()  # conversations whose catch-up page failed: ask again

    @property
    def rooms(self) -> list[str]:
        """The rooms we are in, as the server spells them, in the order joined."""
        return [cursor.room for cursor in self._rooms.values()]

    def cursor(self, target: str) -> Cursor | None:
        key = target_key(target)
        return self._direct if key == ALL_DIRECT else self._rooms.get(key)

    # -- a new connection ---------------------------------------------------------------------

    def hello(self, name: str) -> Hello:
        """The hello for a new connection: plain the first time, then a resume."""
        self._room_page = None
        self._asked.clear()
        self._resuming.clear()
        self._retry.clear()  # the hello asks for everything after the cursors anyway
        for cursor in (*self._rooms.values(), self._direct):
            cursor.catching_up = False  # the rest comes again, after the cursor
            cursor.first_live = cursor.last_live = 0
        if not self.registered:
            self._dm_replay = False
            return Hello(name=name)
        rooms = {cursor.room: cursor.last for cursor in self._rooms.values()}
        for key, cursor in self._rooms.items():
            self._resuming[key] = PageKind.MISSED if cursor.last else PageKind.JOIN
        self._dm_replay = True
        return Hello(name=name, session=self.session, rooms=rooms, dm_after=self._direct.last)

    def welcome(self, welcome: Welcome) -> None:
        self.registered = True
        self.session = welcome.session
        self.max_history = welcome.max_history

    # -- what the server says -----------------------------------------------------------------

    def room_info(self, info: RoomInfo) -> None:
        """We are in ``info.room``; its join (or resume) page comes next."""
        key = room_key(info.room)
        cursor = self._rooms.setdefault(key, Cursor(info.room))
        cursor.room = info.room
        self._room_page = (key, self._resuming.pop(key, PageKind.JOIN))

    def parted(self, room: str) -> None:
        self._rooms.pop(room_key(room), None)

    def refused(self, room: str) -> None:
        """The server says we are not in ``room`` (refused in ``hello`` or ``join``, or
        ``not_member``): forget it, so the next resume does not ask for it again."""
        key = room_key(room)
        self._rooms.pop(key, None)
        self._resuming.pop(key, None)
        self._retry.discard(key)
        # Pages asked of it will not come (a not_member came instead, or will).
        self._asked = deque(asked for asked in self._asked if asked[0] != key)
        if self._room_page is not None and self._room_page[0] == key:
            self._room_page = None

    def message(self, message: Message) -> None:
        self.high_water = max(self.high_water, message.id)
        key = conversation_of(message)
        cursor = self._direct if key == ALL_DIRECT else self._rooms.get(key)
        if cursor is not None:
            cursor.seen(message.id, live=True)

    def acked(self, say: Say, ack: Ack) -> None:
        """Our own line is message ``ack.id``: seen, like any other."""
        self.high_water = max(self.high_water, ack.id)
        if say.to is not None:
            self._direct.seen(ack.id)
        elif (cursor := self._rooms.get(room_key(say.room or DEFAULT_ROOM))) is not None:
            cursor.seen(ack.id)

    def asked(self, request: GetHistory) -> None:
        """We sent ``request``: its page will come back in turn."""
        kind = PageKind.MISSED if request.after is not None else PageKind.OLDER
        self._asked.append((target_key(request.room), kind))

    def page_failed(self, room: str | None = None, *, retry: bool = False) -> None:
        """An ``error`` came instead of the page expected next (the server could not read it);
        ``room`` is the conversation it names, when the server said. A page of what we missed
        leaves a hole after the cursor: with ``retry`` (the failure may pass), :meth:`retries`
        asks for it again later."""
        key = target_key(room) if room else None
        kind: PageKind | None = None
        if self._room_page is not None and key in (None, self._room_page[0]):
            key, kind = self._room_page
            self._room_page = None
        elif self._dm_replay and key in (None, ALL_DIRECT):
            key, kind = ALL_DIRECT, PageKind.MISSED
            self._dm_replay = False
        else:
            for index, (asked_key, asked_kind) in enumerate(self._asked):
                if key in (None, asked_key):
                    key, kind = asked_key, asked_kind
                    del self._asked[index]
                    break
        if not retry or key is None or kind is not PageKind.MISSED or not self.max_history:
            return
        cursor = self.cursor(key)
        if cursor is not None:
            cursor.catching_up = True  # live messages do not close the hole
            self._retry.add(key)

    def wants_retry(self) -> bool:
        """Whether a page of what we missed failed and should be asked for again."""
        return bool(self._retry)

    def retries(self) -> list[GetHistory]:
        """The pages to ask for again, from each hole's start (noted as asked)."""
        requests = []
        for key in sorted(self._retry):
            cursor = self.cursor(key)
            if cursor is not None:
                request = GetHistory(room=cursor.room, after=cursor.last, limit=self.max_history)
                self.asked(request)
                requests.append(request)
        self._retry.clear()
        return requests

    def _kind_of(self, key: str) -> PageKind:
        if self._room_page is not None and self._room_page[0] == key:
            kind = self._room_page[1]
            self._room_page = None
            return kind
        if key == ALL_DIRECT and self._dm_replay:
            self._dm_replay = False
            return PageKind.MISSED
        for index, (asked_key, kind) in enumerate(self._asked):
            if asked_key == key:
                del self._asked[index]
                return kind
        return PageKind.JOIN

    def history(self, page: History) -> tuple[PageKind, GetHistory | None]:
        """What ``page`` is, and the next page to ask for when catching up."""
        key = target_key(page.room)
        kind = self._kind_of(key)
        cursor = self.cursor(page.room) if key == ALL_DIRECT or key.startswith("#") else None
        if cursor is None or kind is PageKind.OLDER:
            return kind, None
        newest = max((message.id for message in page.messages), default=0)
        self.high_water = max(self.high_water, newest)
        if kind is PageKind.JOIN:
            # No hole below the page (an empty one: nothing stored before now).
            cursor.seen(newest or self.high_water)
            return kind, None
        cursor.last = max(cursor.last, newest)
        # Done when nothing more is stored, or the page reached what came live meanwhile.
        reached_live = cursor.catching_up and 0 < cursor.first_live <= newest
        if page.more and page.messages and self.max_history and not reached_live:
            cursor.catching_up = True
            follow = GetHistory(room=cursor.room, after=cursor.last, limit=self.max_history)
            self.asked(follow)
            return kind, follow
        cursor.stop_catching_up()
        return kind, None
