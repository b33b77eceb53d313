"""Chat requests to calls on the chat core: the one place every dialect's requests arrive.

A dialect translates what its client sent into the native protocol's request messages; this
module carries each out for the connection that sent it. Session rules live here, whatever the
dialect: register first, and once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from wirechat_common import (
    PROTOCOL_VERSION,
    AnyMessage,
    Bye,
    ErrorCode,
    GetHistory,
    Hello,
    Join,
    LeaveReason,
    ListRooms,
    Part,
    Ping,
    Pong,
    ProtocolError,
    Say,
    SetTopic,
    Who,
)

from .core import Client

if TYPE_CHECKING:
    from .core import ChatCore


class Requester(Client, Protocol):
    """What carrying out a request needs of the connection that sent it."""

    @property
    def core(self) -> ChatCore: ...
    @property
    def registered(self) -> bool: ...

    def send(self, event: AnyMessage) -> None: ...

    def register(
        self,
        name: str,
        *,
        session: str | None = None,
        rooms: dict[str, int] | None = None,
        dm_after: int | None = None,
    ) -> None: ...

    def close(self, reason: LeaveReason, *, farewell: AnyMessage | None = None) -> None: ...


def dispatch(connection: Requester, request: AnyMessage) -> None:
    """Carry out ``request`` for ``connection``; raises ``ProtocolError`` to refuse it."""
    core = connection.core
    match request:
        case Say(text=text, action=action, client_id=client_id, room=room, to=to):
            _require_registered(connection, client_id)
            if to is not None:
                core.direct(connection, to, text, action=action, client_id=client_id)
            else:
                core.say(connection, text, action=action, client_id=client_id, room=room)
        case Ping(token=token):
            connection.send(Pong(token=token))
        case Pong():
            pass  # any traffic counts as a sign of life; the connection noted it already
        case Who(room=room):
            _require_registered(connection)
            core.who(connection, room)
        case Join(room=room):
            _require_registered(connection)
            core.join(connection, room)
        case Part(room=room):
            _require_registered(connection)
            core.part(connection, room)
        case ListRooms(after=after, limit=limit):
            _require_registered(connection)
            core.list_rooms(connection, after, limit)
        case SetTopic(room=room, topic=topic):
            _require_registered(connection)
            core.set_topic(connection, room, topic)
        case GetHistory(room=room, before=before, after=after, limit=limit):
            _require_registered(connection)
            core.history(connection, room, before=before, after=after, limit=limit)
        case Hello(name=name, version=version, session=session, rooms=rooms, dm_after=dm_after):
            if connection.registered:
                raise ProtocolError(ErrorCode.ALREADY_REGISTERED, "hello was already accepted")
            if version != PROTOCOL_VERSION:
                raise ProtocolError(
                    ErrorCode.UNSUPPORTED_VERSION,
                    f"this server speaks protocol version {PROTOCOL_VERSION}, not {version}",
                    fatal=True,
                )
            connection.register(name, session=session, rooms=rooms, dm_after=dm_after)
        case Bye():
            connection.close(LeaveReason.QUIT, farewell=Bye(reason=LeaveReason.QUIT))
        case _:  # pragma: no cover - dialects translate to client requests only
            raise ProtocolError(ErrorCode.UNKNOWN_TYPE, "unexpected message")


def _require_registered(connection: Requester, client_id: str | None = None) -> None:
    if not connection.registered:
        raise ProtocolError(ErrorCode.NOT_REGISTERED, "send hello first", client_id=client_id)
