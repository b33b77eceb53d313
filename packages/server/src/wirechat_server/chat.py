"""The chat itself, with no sockets: users, rooms, direct messages, history.

:class:`ChatCore` turns what users do into events and hands them to :class:`~.fanout.Fanout`,
which gathers them for a moment and writes them once. It never touches a socket and never
waits.

Durability rule: a message is relayed and acknowledged only once it is stored. ``say`` hands the
message to the :class:`~.store.MessageStore` (group commit, off the loop); the fan-out and the
ack happen in the store's done-callback, which runs in id order. With storage off
(``storage=none``), ids come from a counter and the callback runs at once.

History pages and replays are read on the store's threads. While one is read, the connection
holds its output (:meth:`Client.hold`); the page is then written first and what arrived
meanwhile after it (:meth:`Client.release`), so a page sits in the stream exactly where its
request was handled. Pages stop at the highest id already fanned out when the request was
handled: everything above it reaches the connection live, so nothing is sent twice or skipped.
"""

from __future__ import annotations

import bisect
import dataclasses
import functools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Protocol

from wirechat_common import (
    DEFAULT_ROOM,
    PROTOCOL_VERSION,
    Ack,
    AnyMessage,
    Error,
    ErrorCode,
    History,
    Joined,
    LeaveReason,
    Left,
    Message,
    ProtocolError,
    RoomInfo,
    RoomList,
    RoomSummary,
    Topic,
    Users,
    Welcome,
    name_key,
    room_key,
)

from .fanout import Fanout, Member, Room, Scheduler
from .sessions import Sessions, User
from .store import (
    AppendResult,
    MessageStore,
    PageQuery,
    SessionRow,
    StoreBusy,
    StoredMessage,
    StoreUnavailable,
    dm_room,
)

log: Final = logging.getLogger("wirechat.server")


class Client(Member, Protocol):
    """What the core needs of a registered connection, beyond fan-out's :class:`Member`."""

    name: str
    user: User | None

    def hold(self) -> None:
        """Keep what is delivered from now on until :meth:`release`; read no more requests."""
        ...

    def release(self, first: bytes) -> None:
        """Write ``first``, then what was held, and carry on."""
        ...


@dataclass(frozen=True, slots=True)
class ChatSettings:
    """The core's limits and the server's announced ones (0: not announced or none)."""

    server_name: str = "wirechat"
    max_text_bytes: int = 0
    max_frame_bytes: int = 0
    msg_burst: int = 0
    msg_rate: float = 0.0
    history_on_join: int = 50
    max_history: int = 200
    max_rooms_per_user: int = 50
    max_rooms: int = 10_000
    session_ttl: float = 86_400.0
    max_sessions: int = 10_000
    welcome_users: int = 100

    @classmethod
    def from_config(cls, config: object, *, server_name: str) -> ChatSettings:
        """The settings of these names that ``config`` (the server's) has, and ``server_name``.
        Read by name, so a setting added here is taken from the server's config without a
        second list to keep in step."""
        taken = {
            field.name: getattr(config, field.name)
            for field in dataclasses.fields(cls)
            if hasattr(config, field.name)
        }
        return cls(**{**taken, "server_name": server_name})


def now_ms() -> int:
    """The current UTC time in milliseconds since the Unix epoch (the protocol's ``ts``)."""
    return time.time_ns() // 1_000_000


def _unique_rooms(rooms: dict[str, int]) -> dict[str, int]:
    """``hello``'s rooms with case variants of one room folded into the first one given."""
    unique: dict[str, tuple[str, int]] = {}
    for room, last_id in rooms.items():
        unique.setdefault(room_key(room), (room, last_id))
    return dict(unique.values())


class ChatRoom(Room):
    """A room: fan-out's member sets plus its topic and who is in it (by user, not connection)."""

    __slots__ = ("roster", "topic", "user_connections")

    def __init__(self, name: str) -> None:
        super().__init__(name, room_key(name))
        self.topic = ""
        self.roster: list[str] = []  # display names, sorted by name key
        self.user_connections: dict[str, int] = {}  # name key -> connections in the room


# One page to read for a connection, and how to frame it: (the query, what to call the page in
# its history frame, how many messages to show at most, whether the page runs backwards).
_Page = tuple[PageQuery, str, int, bool]


class ChatCore:
    """Registration, rooms, messages, presence and history. See the module docstring.

    ``loop`` schedules the fan-out's flushes, ``coalesce_delay`` after the first event queued
    (see :class:`Fanout`); ``clock`` gives timestamps in milliseconds.
    """

    def __init__(
        self,
        *,
        loop: Scheduler,
        coalesce_delay: float = 0.0,
        settings: ChatSettings | None = None,
        store: MessageStore | None = None,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        self.settings = settings or ChatSettings()
        self.fanout = Fanout(loop, delay=coalesce_delay)
        self._store = store
        self._clock = clock
        self._sessions = Sessions(
            ttl=self.settings.session_ttl,
            max_dormant=self.settings.max_sessions,
            persist=self._save_session if store is not None else None,
        )
        self._roster: list[str] = []  # display names of everyone connected, by name key
        self._lobby = ChatRoom(DEFAULT_ROOM)
        self._rooms: dict[str, ChatRoom] = {self._lobby.key: self._lobby}
        #: The highest message id handed to fan-out: pages stop there (see module docstring).
        self._delivered_id = 0

    def resume_ids(self, last_id: int) -> None:
        """Carry on from the store's last id (called once it has started)."""
        self._delivered_id = max(self._delivered_id, last_id)

    def restore_sessions(self, rows: list[SessionRow]) -> None:
        """Bring back the sessions saved before a restart (see :mod:`.sessions`)."""
        self._sessions.restore(
            [
                (User(name, dm_floor, hashed), seen_ms / 1000)
                for _, name, hashed, dm_floor, seen_ms in rows
            ]
        )

    def save_sessions(self) -> None:
        """Save the sessions of everyone connected, as seen now."""
        self._sessions.save_online()

    def _save_session(self, user: User, seen: float) -> None:
        assert self._store is not None
        expiry = seen - self.settings.session_ttl
        self._store.save_session(
            (user.key, user.name, user.token_hash, user.dm_floor, int(seen * 1000)),
            expire_before_ms=int(expiry * 1000),
        )

    def _next_possible_id(self) -> int:
        """An upper bound on the ids of messages already submitted: a session that starts now
        may read direct messages above it, none of which was sent before it began."""
        store = self._store
        if store is None:
            return self._delivered_id
        return max(self._delivered_id, store.last_id) + store.pending

    # -- queries -----------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._sessions)

    def users(self) -> list[str]:
        """Everyone connected, sorted case-insensitively."""
        return list(self._roster)

    def is_taken(self, name: str) -> bool:
        """Whether ``name`` (in any case) is in use."""
        return self._sessions.online(name_key(name)) is not None

    def _room_of(self, client: Client, name: str | None, client_id: str | None = None) -> ChatRoom:
        """The room ``name`` (default: the lobby) if ``client`` is in it, else ``not_member``."""
        room = self._lobby if name is None else self._rooms.get(room_key(name))
        if room is None or room not in client.rooms:
            raise ProtocolError(
                ErrorCode.NOT_MEMBER,
                f"you are not in {name or DEFAULT_ROOM}",
                client_id=client_id,
                room=name or DEFAULT_ROOM,
            )
        return room

    # -- registration ------------------------------------------------------------------------

    def register(
        self,
        client: Client,
        name: str,
        *,
        session: str | None = None,
        rooms: dict[str, int] | None = None,
        dm_after: int | None = None,
        recent: int | None = None,
    ) -> None:
        """Register ``client`` as ``name``: ``welcome``, then each room's ``room`` and ``history``
        (``recent`` messages of a room joined afresh; default: ``history_on_join``).

        Raises :class:`ProtocolError`: ``name_taken`` if the name is in use (without its
        session), ``too_many_rooms`` if ``rooms`` lists more than a user may join.
        """
        settings = self.settings
        wanted = _unique_rooms(rooms) if rooms is not None else {DEFAULT_ROOM: 0}
        if len(wanted) > settings.max_rooms_per_user:
            raise ProtocolError(
                ErrorCode.TOO_MANY_ROOMS,
                f"{len(wanted)} rooms asked for; at most {settings.max_rooms_per_user} at once",
            )
        user, token = self._sessions.claim(name, session, self._next_possible_id())
        client.user = user
        client.name = user.name
        if not user.connections:
            bisect.insort(self._roster, user.name, key=name_key)
        user.connections.append(client)
        try:
            self._welcome(client, user, token, wanted, dm_after, recent)
        except BaseException:
            # Whatever failed, the name must not stay taken by a connection that never made it.
            self.leave(client, LeaveReason.DROPPED)
            raise

    def _welcome(
        self,
        client: Client,
        user: User,
        token: str,
        rooms: dict[str, int],
        dm_after: int | None,
        recent: int | None,
    ) -> None:
        settings = self.settings
        welcome = Welcome(
            name=user.name,
            version=PROTOCOL_VERSION,
            users=self._roster[: settings.welcome_users],
            online=len(self._roster),
            server=settings.server_name,
            max_text_bytes=settings.max_text_bytes,
            max_frame_bytes=settings.max_frame_bytes,
            msg_burst=settings.msg_burst,
            msg_rate=settings.msg_rate,
            session=token,
            max_history=settings.max_history if self._store is not None else 0,
            max_rooms=settings.max_rooms_per_user,
        )
        if recent is None:
            recent = settings.history_on_join
        # The whole answer holds at most max_history messages, shared among its pages (each
        # says ``more`` if it stopped short): a hello naming many rooms cannot make the server
        # build and buffer megabytes for one client.
        pages = len(rooms) + (dm_after is not None)
        share = max(1, settings.max_history // max(1, pages))
        frames: list[bytes | _Page] = [client.wire.render(welcome)]
        errors: list[AnyMessage] = []
        for room_name, last_id in rooms.items():
            try:
                room = self._enter(client, room_name)
            except ProtocolError as error:
                errors.append(Error(code=error.code, detail=error.detail, room=room_name))
                continue
            frames.append(client.wire.render(self._room_info(room)))
            if last_id:
                frames.append(self._page_after(room.key, room.name, last_id, user, share))
            else:  # always a page, if only of 0: its ``more`` says whether there is history
                frames.append(self._page_recent(room.key, room.name, min(recent, share), user))
        if dm_after is not None:
            frames.append(self._page_after("@", "@", dm_after, user, share))
        frames.extend(client.wire.render(error) for error in errors)
        self._answer(client, frames)

    def leave(self, client: Client, reason: LeaveReason, *, announce: bool = True) -> None:
        """Remove ``client`` after giving it all it is owed; its rooms hear why if ``announce``."""
        user = client.user
        if user is None or client not in user.connections:
            return
        if client.writable:
            stream = self.fanout.drain(client)
            if stream:
                client.deliver(stream)
        else:
            self.fanout.drain(client)
        for room in list(client.rooms):
            assert isinstance(room, ChatRoom)
            self._exit(client, room, reason if announce else None)
        user.connections.remove(client)
        client.user = None
        if not user.connections:
            del self._roster[bisect.bisect_left(self._roster, user.key, key=name_key)]
            self._sessions.release(user)

    # -- rooms -------------------------------------------------------------------------------

    def join(self, client: Client, name: str) -> None:
        """Join room ``name`` (creating it): ``room`` and ``history`` to the client, ``joined``
        to the others. Already in it: ``room`` and ``history`` again."""
        assert client.user is not None
        try:
            room = self._enter(client, name)
        except ProtocolError as error:
            raise ProtocolError(error.code, error.detail, fatal=error.fatal, room=name) from None
        recent = self._page_recent(room.key, room.name, self.settings.history_on_join, client.user)
        self._answer(client, [client.wire.render(self._room_info(room)), recent])

    def part(self, client: Client, name: str) -> None:
        """Leave room ``name``: ``left`` (reason ``part``) to the client and to the room."""
        room = self._room_of(client, name)
        self.fanout.leaving(client, room)
        assert client.user is not None
        self.fanout.to_member(
            client,
            Left(name=client.user.name, reason=LeaveReason.PART, ts=self._clock(), room=room.name),
        )
        self._exit(client, room, LeaveReason.PART)

    def who(self, client: Client, name: str | None) -> None:
        """Answer ``who``: a room's members, or everyone connected."""
        if name is None:
            self.fanout.to_member(client, Users(users=list(self._roster)))
        else:
            room = self._room_of(client, name)
            self.fanout.to_member(client, Users(users=list(room.roster), room=room.name))

    def list_rooms(self, client: Client) -> None:
        """Answer ``rooms``: every room with members (and the lobby), sorted by name."""
        rooms = [
            RoomSummary(room=room.name, users=len(room.user_connections), topic=room.topic)
            for _, room in sorted(self._rooms.items())
        ]
        self.fanout.to_member(client, RoomList(rooms=rooms))

    def set_topic(self, client: Client, name: str, topic: str) -> None:
        """Set a room's topic; everyone in it hears, the setter included."""
        room = self._room_of(client, name)
        room.topic = topic
        self.fanout.to_room(
            room, Topic(room=room.name, topic=topic, by=client.name, ts=self._clock())
        )

    def _enter(self, client: Client, name: str) -> ChatRoom:
        key = room_key(name)
        room = self._rooms.get(key)
        if room is not None and room in client.rooms:
            return room
        settings = self.settings
        if len(client.rooms) >= settings.max_rooms_per_user:
            raise ProtocolError(
                ErrorCode.TOO_MANY_ROOMS,
                f"you are in {len(client.rooms)} rooms, the most allowed; part one first",
            )
        if room is None:
            if len(self._rooms) >= settings.max_rooms:
                raise ProtocolError(
                    ErrorCode.TOO_MANY_ROOMS, "this server has as many rooms as it allows"
                )
            room = self._rooms[key] = ChatRoom(name)
        user = client.user
        assert user is not None
        self.fanout.entering(client, room)
        room.add(client)
        count = room.user_connections.get(user.key, 0)
        room.user_connections[user.key] = count + 1
        if not count:
            bisect.insort(room.roster, user.name, key=name_key)
            self.fanout.to_room(
                room, Joined(name=user.name, ts=self._clock(), room=room.name), exclude=client
            )
        return room

    def _exit(self, client: Client, room: ChatRoom, reason: LeaveReason | None) -> None:
        user = client.user
        assert user is not None
        room.discard(client)
        count = room.user_connections.get(user.key, 0) - 1
        if count > 0:
            room.user_connections[user.key] = count
        else:
            room.user_connections.pop(user.key, None)
            del room.roster[bisect.bisect_left(room.roster, user.key, key=name_key)]
            if reason is not None:
                left = Left(name=user.name, reason=reason, ts=self._clock(), room=room.name)
                self.fanout.to_room(room, left)
        if not room.by_wire and room is not self._lobby:
            del self._rooms[room.key]

    @staticmethod
    def _room_info(room: ChatRoom) -> RoomInfo:
        return RoomInfo(room=room.name, users=list(room.roster), topic=room.topic)

    # -- messages ----------------------------------------------------------------------------

    def say(
        self,
        client: Client,
        text: str,
        *,
        action: bool = False,
        client_id: str | None = None,
        room: str | None = None,
    ) -> None:
        """Store ``text`` for ``room`` (default: the lobby); once stored, relay and ack it."""
        target = self._room_of(client, room, client_id)
        self._submit(client, target.key, target, text, action, client_id)

    def direct(
        self,
        client: Client,
        to: str,
        text: str,
        *,
        action: bool = False,
        client_id: str | None = None,
    ) -> None:
        """Store a direct message to ``to``; once stored, deliver it to every connection of
        the recipient and the sender's other ones, and ack it."""
        recipient = self._sessions.online(name_key(to))
        if recipient is None:
            raise ProtocolError(
                ErrorCode.NO_SUCH_USER, f"nobody called {to!r} is connected", client_id=client_id
            )
        assert client.user is not None
        self._submit(
            client, dm_room(client.user.key, recipient.key), recipient, text, action, client_id
        )

    def _submit(
        self,
        client: Client,
        conversation: str,
        target: ChatRoom | User,
        text: str,
        action: bool,
        client_id: str | None,
    ) -> None:
        user = client.user
        assert user is not None
        store = self._store
        if store is None:
            self._delivered_id += 1
            stored = StoredMessage(
                self._delivered_id,
                self._clock(),
                conversation,
                user.name,
                user.key,
                text,
                action,
                client_id,
            )
            self._relay(client, user, target, AppendResult(stored, duplicate=False))
            return
        try:
            future = store.submit(
                conversation,
                user.name,
                user.key,
                text,
                action=action,
                client_id=client_id,
                fresh_after=user.dm_floor,
            )
        except StoreBusy as exc:
            raise ProtocolError(
                ErrorCode.BUSY,
                f"too many messages wait for the disk ({exc})",
                client_id=client_id,
            ) from None
        except StoreUnavailable:
            raise ProtocolError(
                ErrorCode.STORAGE_UNAVAILABLE,
                "the message could not be stored",
                client_id=client_id,
            ) from None
        future.add_done_callback(functools.partial(self._stored, client, user, target, client_id))

    def _stored(
        self,
        client: Client,
        sender: User,
        target: ChatRoom | User,
        client_id: str | None,
        future: object,
    ) -> None:
        # The store's done-callback: runs in id order, on the loop. The batch already waited
        # for the disk, so its relays and acks go out at the end of this turn.
        assert hasattr(future, "result")
        self.fanout.expedite()
        try:
            result: AppendResult = future.result()
        except StoreUnavailable as exc:
            log.warning("storage failed name=%s: %s", client.name, exc)
            if client.user is not None:
                self.fanout.to_member(
                    client,
                    Error(
                        code=ErrorCode.STORAGE_UNAVAILABLE,
                        detail="the message could not be stored; it was not sent",
                        client_id=client_id,
                    ),
                )
            return
        self._relay(client, sender, target, result)

    def _relay(
        self, client: Client, sender: User, target: ChatRoom | User, result: AppendResult
    ) -> None:
        # ``sender`` and ``target`` are the users as they were when the message was said: if a
        # name changed hands meanwhile, its new holder is someone else and gets nothing.
        stored = result.message
        if not result.duplicate:
            self._delivered_id = max(self._delivered_id, stored.id)
            if isinstance(target, ChatRoom):
                # The room as it is now: if it emptied and was made again meanwhile, its new
                # members are owed the message (their join page stopped below it).
                room = self._rooms.get(target.key)
                message = Message(
                    id=stored.id,
                    ts=stored.ts,
                    sender=stored.sender,
                    text=stored.text,
                    action=stored.action,
                    room=target.name,
                )
                if room is not None:
                    self.fanout.to_room(room, message, exclude=client)
            else:
                message = Message(
                    id=stored.id,
                    ts=stored.ts,
                    sender=stored.sender,
                    text=stored.text,
                    action=stored.action,
                    to=target.name,
                )
                recipients = {*target.connections, *sender.connections}
                recipients.discard(client)
                for recipient in recipients:
                    self.fanout.to_member(recipient, message)
        if client.user is not None:
            ack = Ack(
                id=stored.id, ts=stored.ts, client_id=stored.client_id, duplicate=result.duplicate
            )
            self.fanout.to_member(client, ack)

    # -- history -----------------------------------------------------------------------------

    def history(
        self,
        client: Client,
        conversation: str,
        *,
        before: int | None = None,
        after: int | None = None,
        limit: int | None = None,
    ) -> None:
        """Answer ``get_history`` with one page of a room the client is in, or of its DMs."""
        settings = self.settings
        if limit is None:
            limit = settings.history_on_join
        elif limit > settings.max_history:
            raise ProtocolError(
                ErrorCode.HISTORY_WINDOW_TOO_LARGE,
                f"at most {settings.max_history} messages a page, not {limit}",
                room=conversation,
            )
        user = client.user
        assert user is not None
        if conversation.startswith("@"):
            key = conversation[1:].lower()
            stored_as = "@" if not key else dm_room(user.key, key)
        else:
            stored_as = self._room_of(client, conversation).key
        if after is not None:
            page = self._page_after(stored_as, conversation, after, user, limit)
        elif before is not None:
            page = self._page_before(stored_as, conversation, before, user, limit)
        else:
            page = self._page_recent(stored_as, conversation, limit, user)
        self._answer(client, [page])

    def _page_recent(self, stored_as: str, shown_as: str, limit: int, user: User) -> _Page:
        return self._page_before(stored_as, shown_as, self._delivered_id + 1, user, limit)

    def _page_before(
        self, stored_as: str, shown_as: str, before: int, user: User, limit: int
    ) -> _Page:
        below = min(before, self._delivered_id + 1)
        return self._query(stored_as, shown_as, 0, below, limit, user, newest=True)

    def _page_after(
        self, stored_as: str, shown_as: str, after: int, user: User, limit: int | None = None
    ) -> _Page:
        limit = self.settings.max_history if limit is None else limit
        below = self._delivered_id + 1
        return self._query(stored_as, shown_as, after, below, limit, user, newest=False)

    @staticmethod
    def _query(
        stored_as: str,
        shown_as: str,
        above: int,
        below: int,
        limit: int,
        user: User,
        *,
        newest: bool,
    ) -> _Page:
        dm_of = None
        if stored_as.startswith("@"):
            above = max(above, user.dm_floor)  # DMs of the name's earlier holders are not theirs
            if stored_as == "@":
                dm_of = user.key
        # One more than shown, to tell whether there are more.
        query = PageQuery(stored_as, above, below, limit + 1, newest, dm_of)
        return query, shown_as, limit, newest

    def _answer(self, client: Client, frames: list[bytes | _Page]) -> None:
        """Send ``frames`` in the client's stream now, reading the pages among them first."""
        pages = [frame for frame in frames if isinstance(frame, tuple)]
        store = self._store
        if not pages or store is None:
            empty: list[list[StoredMessage]] = [[] for _ in pages]
            self._write_answer(client, frames, empty)
            return
        # Everything owed so far goes first; what comes during the read waits behind the pages.
        stream = self.fanout.cut(client)
        if stream:
            client.deliver(stream)
        client.hold()
        try:
            future = store.pages([page[0] for page in pages])
        except StoreUnavailable:
            client.release(self._render_answer(client, frames, None))
            return
        future.add_done_callback(functools.partial(self._pages_read, client, frames))

    def _pages_read(self, client: Client, frames: list[bytes | _Page], future: object) -> None:
        assert hasattr(future, "result")
        try:
            results: list[list[StoredMessage]] | None = future.result()
        except StoreUnavailable as exc:
            log.warning("history read failed name=%s: %s", client.name, exc)
            results = None
        client.release(self._render_answer(client, frames, results))

    def _write_answer(
        self, client: Client, frames: list[bytes | _Page], results: list[list[StoredMessage]]
    ) -> None:
        stream = self.fanout.cut(client)
        data = self._render_answer(client, frames, results)
        client.deliver(stream + data)

    def _render_answer(
        self,
        client: Client,
        frames: list[bytes | _Page],
        results: list[list[StoredMessage]] | None,
    ) -> bytes:
        render = client.wire.render
        parts: list[bytes] = []
        pages = iter(results or ())
        for frame in frames:
            if isinstance(frame, bytes):
                parts.append(frame)
                continue
            if results is None:
                parts.append(
                    render(
                        Error(
                            code=ErrorCode.STORAGE_UNAVAILABLE,
                            detail=f"the history of {frame[1]} cannot be read right now",
                            room=frame[1],
                        )
                    )
                )
                continue
            rows = next(pages)
            _, shown_as, limit, newest = frame
            more = len(rows) > limit
            if more:
                rows = rows[1:] if newest else rows[:limit]
            parts.append(
                render(History(room=shown_as, messages=self._messages(rows, shown_as), more=more))
            )
        return b"".join(parts)

    def _messages(self, rows: list[StoredMessage], shown_as: str) -> list[Message]:
        messages = []
        for row in rows:
            if row.room.startswith("@"):
                low, _, high = row.room[1:].partition(":")
                to_key = high if row.sender_key == low else low
                to_user = self._sessions.online(to_key)
                to = to_user.name if to_user is not None else to_key
                messages.append(
                    Message(
                        id=row.id,
                        ts=row.ts,
                        sender=row.sender,
                        text=row.text,
                        action=row.action,
                        to=to,
                    )
                )
            else:
                room = self._rooms.get(row.room)
                messages.append(
                    Message(
                        id=row.id,
                        ts=row.ts,
                        sender=row.sender,
                        text=row.text,
                        action=row.action,
                        room=room.name if room is not None else shown_as,
                    )
                )
        return messages
