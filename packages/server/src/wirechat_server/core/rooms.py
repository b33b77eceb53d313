"""Rooms and who is in them: entering, leaving and their notices, topics, the room list.

A :class:`ChatRoom` is the room's state (name, topic, roster); its delivery group (who gets its
events, grouped by wire format) is the bus's :class:`~..fanout.Group`, which the room holds.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable

from wirechat_common import (
    DEFAULT_ROOM,
    ErrorCode,
    Joined,
    LeaveReason,
    Left,
    ProtocolError,
    RoomInfo,
    RoomList,
    RoomSummary,
    Topic,
    name_key,
    room_key,
)

from ..bus import Bus
from ..fanout import Group
from ..identity import User
from .client import Client
from .settings import ChatSettings


class ChatRoom:
    """A room: its name, topic and who is in it (by user, not by connection)."""

    __slots__ = ("group", "key", "name", "origin", "roster", "topic", "user_connections")

    def __init__(self, name: str, origin: str = "") -> None:
        self.name = name
        #: Where the room's creator came from: the room counts against that address's share of
        #: the server's rooms for as long as it exists (``""``: exempt, or the lobby).
        self.origin = origin
        self.key = room_key(name)
        self.group = Group(name, self.key)  # who gets its events: the bus's business
        self.topic = ""
        self.roster: list[str] = []  # display names, sorted by name key
        self.user_connections: dict[str, int] = {}  # name key -> connections in the room

    def __repr__(self) -> str:
        return f"ChatRoom({self.name!r})"

    def info(self) -> RoomInfo:
        return RoomInfo(room=self.name, users=list(self.roster), topic=self.topic)


class Rooms:
    """Every room with someone in it, and the lobby, which always exists."""

    def __init__(
        self, bus: Bus[Group, Client], settings: ChatSettings, clock: Callable[[], int]
    ) -> None:
        self._bus = bus
        self._settings = settings
        self._clock = clock
        self.lobby = ChatRoom(DEFAULT_ROOM)
        self._rooms: dict[str, ChatRoom] = {self.lobby.key: self.lobby}
        # The keys in order, kept as rooms come and go, so that a page of the room list costs
        # a binary search and the page, not a sort of every room (8.4 ms at 10,000).
        self._keys: list[str] = [self.lobby.key]
        self._by_origin: dict[str, int] = {}  # rooms in existence, by their creator's origin

    def get(self, key: str) -> ChatRoom | None:
        """The room whose key is ``key``, if it exists."""
        return self._rooms.get(key)

    def of(self, client: Client) -> list[ChatRoom]:
        """The rooms ``client`` is in."""
        return [self._rooms[group.key] for group in client.rooms]

    def member_room(
        self, client: Client, name: str | None, client_id: str | None = None
    ) -> ChatRoom:
        """The room ``name`` (default: the lobby) if ``client`` is in it, else ``not_member``."""
        room = self.lobby if name is None else self._rooms.get(room_key(name))
        if room is None or room.group not in client.rooms:
            raise ProtocolError(
                ErrorCode.NOT_MEMBER,
                f"you are not in {name or DEFAULT_ROOM}",
                client_id=client_id,
                room=name or DEFAULT_ROOM,
            )
        return room

    def enter(self, client: Client, name: str) -> ChatRoom:
        """Put ``client`` in room ``name`` (creating it); the room hears of a user new to it.
        Raises ``too_many_rooms`` past the user's or the server's limit."""
        key = room_key(name)
        room = self._rooms.get(key)
        if room is not None and room.group in client.rooms:
            return room
        settings = self._settings
        if len(client.rooms) >= settings.max_rooms_per_user:
            raise ProtocolError(
                ErrorCode.TOO_MANY_ROOMS,
                f"you are in {len(client.rooms)} rooms, the most allowed; part one first",
            )
        if room is None:
            room = self._create(name, key, client.origin)
        user = client.user
        assert user is not None
        self._bus.entering(client, room.group)
        room.group.add(client)
        count = room.user_connections.get(user.key, 0)
        room.user_connections[user.key] = count + 1
        if not count:
            bisect.insort(room.roster, user.name, key=name_key)
            self._bus.to_room(
                room.group, Joined(name=user.name, ts=self._clock(), room=room.name), exclude=client
            )
        return room

    def exit(self, client: Client, room: ChatRoom, reason: LeaveReason | None, user: User) -> None:
        """Take ``user``'s ``client`` out of ``room``; if the user has no other connection
        there, the room hears why (unless ``reason`` is ``None``). An empty room is forgotten."""
        room.group.discard(client)
        count = room.user_connections.get(user.key, 0) - 1
        if count > 0:
            room.user_connections[user.key] = count
        else:
            room.user_connections.pop(user.key, None)
            del room.roster[bisect.bisect_left(room.roster, user.key, key=name_key)]
            if reason is not None:
                left = Left(name=user.name, reason=reason, ts=self._clock(), room=room.name)
                self._bus.to_room(room.group, left)
        if not room.group.by_wire and room is not self.lobby:
            self._remove(room)

    def _create(self, name: str, key: str, origin: str) -> ChatRoom:
        """A new room, counted against the server's rooms and its creator's origin's share of
        them (so that a few addresses cannot take every room); ``too_many_rooms`` past either."""
        settings = self._settings
        if len(self._rooms) >= settings.max_rooms:
            raise ProtocolError(
                ErrorCode.TOO_MANY_ROOMS, "this server has as many rooms as it allows"
            )
        held = self._by_origin.get(origin, 0) if origin else 0
        if held >= settings.max_rooms_per_ip:
            raise ProtocolError(
                ErrorCode.TOO_MANY_ROOMS,
                f"rooms made from your address: {held}, the most allowed; join an existing one",
            )
        room = self._rooms[key] = ChatRoom(name, origin)
        bisect.insort(self._keys, key)
        if origin:
            self._by_origin[origin] = held + 1
        return room

    def _remove(self, room: ChatRoom) -> None:
        del self._rooms[room.key]
        del self._keys[bisect.bisect_left(self._keys, room.key)]
        if room.origin:
            left = self._by_origin[room.origin] - 1
            if left:
                self._by_origin[room.origin] = left
            else:
                del self._by_origin[room.origin]

    def part(self, client: Client, name: str) -> None:
        """Leave room ``name``: ``left`` (reason ``part``) to the client and to the room."""
        room = self.member_room(client, name)
        self._bus.leaving(client, room.group)
        assert client.user is not None
        self._bus.to_member(
            client,
            Left(name=client.user.name, reason=LeaveReason.PART, ts=self._clock(), room=room.name),
        )
        self.exit(client, room, LeaveReason.PART, client.user)

    def list_rooms(
        self, client: Client, after: str | None = None, limit: int | None = None
    ) -> None:
        """Answer ``rooms``: a page of the rooms with members (and the lobby), sorted by name,
        from the first after ``after``; ``limit`` at most the page size (which is the default)."""
        page = self._settings.rooms_page if limit is None else min(limit, self._settings.rooms_page)
        keys = self._keys
        start = 0 if after is None else bisect.bisect_right(keys, room_key(after))
        chosen = keys[start : start + page]
        rooms = [
            RoomSummary(room=room.name, users=len(room.user_connections), topic=room.topic)
            for room in map(self._rooms.__getitem__, chosen)
        ]
        more = start + len(chosen) < len(keys)
        self._bus.to_member(client, RoomList(rooms=rooms, more=more))

    def set_topic(self, client: Client, name: str, topic: str) -> None:
        """Set a room's topic; everyone in it hears, the setter included."""
        room = self.member_room(client, name)
        room.topic = topic
        self._bus.to_room(
            room.group, Topic(room=room.name, topic=topic, by=client.name, ts=self._clock())
        )
