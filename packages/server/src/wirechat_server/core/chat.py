"""The chat core: registration and leaving, and every request, over rooms, relay and history.

:class:`ChatCore` turns what users do into events and publishes them through the bus
(:mod:`..bus`; in-process, :class:`~..fanout.Fanout`, which gathers them for a moment and writes
them once). It never touches a socket, never waits and imports no event loop, thread or
database driver: the message log, presence and identities are interfaces it is given or makes
the in-process versions of. The work is split: :mod:`.rooms` (membership and notices),
:mod:`.relay` (store, then relay and ack), :mod:`.history` (pages in a client's stream).
"""

from __future__ import annotations

from collections.abc import Callable

from wirechat_common import (
    DEFAULT_ROOM,
    PROTOCOL_VERSION,
    AnyMessage,
    Error,
    ErrorCode,
    LeaveReason,
    ProtocolError,
    Users,
    Welcome,
    name_key,
    room_key,
)

from ..bus import Bus
from ..fanout import Fanout, Group, Scheduler
from ..identity import Identities, User
from ..presence import LocalPresence, Presence
from ..sessions import Sessions
from ..storage.log import MessageLog
from ..storage.model import SessionRow
from .client import Client
from .history import Frames, History
from .relay import Relay
from .rooms import Rooms
from .settings import ChatSettings, now_ms


def _unique_rooms(rooms: dict[str, int]) -> dict[str, int]:
    """``hello``'s rooms with case variants of one room folded into the first one given."""
    unique: dict[str, tuple[str, int]] = {}
    for room, last_id in rooms.items():
        unique.setdefault(room_key(room), (room, last_id))
    return dict(unique.values())


def _ignore(message: str) -> None:
    del message


class ChatCore:
    """Registration, rooms, messages, presence and history. See the module docstring.

    ``loop`` schedules the fan-out's flushes, ``coalesce_delay`` after the first event queued
    (see :class:`Fanout`); ``clock`` gives timestamps in milliseconds; ``log`` stores messages
    (``None``: storage off); ``warn`` reports what went wrong that no client caused (a failed
    commit), for the server's log.
    """

    def __init__(
        self,
        *,
        loop: Scheduler,
        coalesce_delay: float = 0.0,
        settings: ChatSettings | None = None,
        log: MessageLog | None = None,
        clock: Callable[[], int] = now_ms,
        warn: Callable[[str], None] = _ignore,
        bus: Bus[Group, Client] | None = None,
        presence: Presence[Client] | None = None,
        identities: Identities | None = None,
    ) -> None:
        """``bus``, ``presence`` and ``identities`` default to this process's own: fan-out on
        ``loop``, :class:`~..presence.LocalPresence`, and session tokens
        (:class:`~..sessions.Sessions`) over that presence."""
        self.settings = settings = settings or ChatSettings()
        self.bus = bus if bus is not None else Fanout(loop, delay=coalesce_delay)
        self._log = log
        self.presence = presence if presence is not None else LocalPresence[Client]()
        self.identities = identities or Sessions(
            presence=self.presence,
            ttl=settings.session_ttl,
            max_dormant=settings.max_sessions,
            max_dormant_per_origin=settings.max_sessions_per_ip,
            persist=self._save_session if log is not None else None,
        )
        self.rooms = Rooms(self.bus, settings, clock)
        #: By name key: connections that left while a message of theirs was still being
        #: stored, whose rooms have not yet heard them leave (see leave), each with its user
        #: and what makes it leave its rooms.
        self._departing: dict[str, dict[Client, tuple[User, Callable[[], None]]]] = {}
        self.relay = Relay(
            bus=self.bus,
            log=log,
            presence=self.presence,
            rooms=self.rooms,
            clock=clock,
            warn=warn,
        )
        self.history_pages = History(
            bus=self.bus,
            log=log,
            presence=self.presence,
            rooms=self.rooms,
            relay=self.relay,
            settings=settings,
            warn=warn,
        )

    def resume_ids(self, last_id: int) -> None:
        """Carry on from the log's last id (called once it has started)."""
        self.relay.delivered_id = max(self.relay.delivered_id, last_id)

    def restore_sessions(self, rows: list[SessionRow]) -> None:
        """Bring back the sessions saved before a restart (see :mod:`..sessions`)."""
        self.identities.restore(
            [
                (User(name, dm_floor, hashed), seen_ms / 1000)
                for _, name, hashed, dm_floor, seen_ms in rows
            ]
        )

    def save_sessions(self) -> None:
        """Save the sessions of everyone connected, as seen now."""
        self.identities.save_online()

    def _save_session(self, user: User, seen: float) -> None:
        assert self._log is not None
        expiry = seen - self.settings.session_ttl
        self._log.save_session(
            (user.key, user.name, user.token_hash, user.dm_floor, int(seen * 1000)),
            expire_before_ms=int(expiry * 1000),
        )

    # -- queries -----------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.presence)

    def users(self) -> list[str]:
        """Everyone connected, sorted case-insensitively."""
        return list(self.presence.names())

    def is_taken(self, name: str) -> bool:
        """Whether ``name`` (in any case) is in use."""
        return self.presence.user(name_key(name)) is not None

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
        user, token = self.identities.claim(
            name, session, self.relay.next_possible_id(), client.origin
        )
        for earlier, exit_rooms in list(self._departing.get(user.key, {}).values()):
            if earlier is not user:
                exit_rooms()  # another user takes the name: the earlier holder is gone now
        client.user = user
        client.name = user.name
        self.presence.attach(user, client)
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
        names = self.presence.names()
        welcome = Welcome(
            name=user.name,
            version=PROTOCOL_VERSION,
            users=names[: settings.welcome_users],
            online=len(names),
            server=settings.server_name,
            max_text_bytes=settings.max_text_bytes,
            max_frame_bytes=settings.max_frame_bytes,
            msg_burst=settings.msg_burst,
            msg_rate=settings.msg_rate,
            session=token,
            max_history=settings.max_history if self._log is not None else 0,
            max_rooms=settings.max_rooms_per_user,
        )
        if recent is None:
            recent = settings.history_on_join
        # The whole answer holds at most max_history messages, shared among its pages (each
        # says ``more`` if it stopped short): a hello naming many rooms cannot make the server
        # build and buffer megabytes for one client.
        pages = len(rooms) + (dm_after is not None)
        share = max(1, settings.max_history // max(1, pages))
        history = self.history_pages
        frames: Frames = [client.render_reply(welcome)]
        errors: list[AnyMessage] = []
        for room_name, last_id in rooms.items():
            try:
                room = self.rooms.enter(client, room_name)
            except ProtocolError as error:
                errors.append(Error(code=error.code, detail=error.detail, room=room_name))
                continue
            frames.append(client.render_reply(room.info()))
            if last_id:
                frames.append(history.after(room.key, room.name, last_id, user, share))
            else:  # always a page, if only of 0: its ``more`` says whether there is history
                frames.append(history.recent(room.key, room.name, min(recent, share), user))
        if dm_after is not None:
            frames.append(history.after("@", "@", dm_after, user, share))
        frames.extend(client.render_reply(error) for error in errors)
        history.answer(client, frames)

    def leave(self, client: Client, reason: LeaveReason, *, announce: bool = True) -> None:
        """Remove ``client`` after giving it all it is owed; its rooms hear why if ``announce``."""
        user = client.user
        if user is None or client not in self.presence.connections(user):
            return
        if client.writable:
            stream = self.bus.drain(client)
            if stream:
                client.deliver(stream)
        else:
            self.bus.drain(client)
        client.user = None
        rooms = self.rooms
        departing = self._departing

        def exit_rooms() -> None:
            for room in rooms.of(client):
                rooms.exit(client, room, reason if announce else None, user)
            waiting = departing.get(user.key)
            if waiting is not None and client in waiting:
                del waiting[client]
                if not waiting:
                    del departing[user.key]

        # Its rooms hear it leave once what it said is relayed: its last lines come first. The
        # name is free at once. The user coming back meanwhile is one more of its connections
        # in those rooms, so nobody hears it leave and return; someone else taking the name
        # makes it leave at once (see register).
        if not self.relay.settled(client):
            departing.setdefault(user.key, {})[client] = (user, exit_rooms)
        self.relay.when_settled(client, exit_rooms)
        if self.presence.detach(user, client):
            self.identities.release(user)

    # -- requests ----------------------------------------------------------------------------

    def join(self, client: Client, name: str) -> None:
        """Join room ``name`` (creating it): ``room`` and ``history`` to the client, ``joined``
        to the others. Already in it: ``room`` and ``history`` again."""
        user = client.user
        assert user is not None
        try:
            room = self.rooms.enter(client, name)
        except ProtocolError as error:
            raise ProtocolError(error.code, error.detail, fatal=error.fatal, room=name) from None
        history = self.history_pages
        recent = history.recent(room.key, room.name, self.settings.history_on_join, user)
        history.answer(client, [client.render_reply(room.info()), recent])

    def part(self, client: Client, name: str) -> None:
        """Leave room ``name``: ``left`` (reason ``part``) to the client and to the room."""
        self.rooms.part(client, name)

    def who(self, client: Client, name: str | None) -> None:
        """Answer ``who``: a room's members, or everyone connected."""
        if name is None:
            self.bus.to_member(client, Users(users=list(self.presence.names())))
        else:
            room = self.rooms.member_room(client, name)
            self.bus.to_member(client, Users(users=list(room.roster), room=room.name))

    def list_rooms(
        self, client: Client, after: str | None = None, limit: int | None = None
    ) -> None:
        """Answer ``rooms``: a page of the rooms with members (and the lobby), sorted by name."""
        self.rooms.list_rooms(client, after, limit)

    def set_topic(self, client: Client, name: str, topic: str) -> None:
        """Set a room's topic; everyone in it hears, the setter included."""
        self.rooms.set_topic(client, name, topic)

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
        self.relay.say(client, text, action=action, client_id=client_id, room=room)

    def direct(
        self,
        client: Client,
        to: str,
        text: str,
        *,
        action: bool = False,
        client_id: str | None = None,
    ) -> None:
        """Store a direct message to ``to``; once stored, deliver it to every connection of the
        recipient and the sender's other ones, and ack it."""
        self.relay.direct(client, to, text, action=action, client_id=client_id)

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
        self.history_pages.history(client, conversation, before=before, after=after, limit=limit)
