"""The native protocol adapter: JSON frames from ``wirechat_common``, one per line.

:class:`NativeSession` pulls decoded requests one at a time (so the connection can rate-limit
them) and turns each into a call on the chat core. The codec has already validated every field,
names and text included, so the handlers here only apply session rules: register first, once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from wirechat_common import (
    PROTOCOL_VERSION,
    AnyMessage,
    Bye,
    ClientMessage,
    Decoder,
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
    encode,
)

if TYPE_CHECKING:
    from .connection import Connection


class NativeWire:
    """Native clients see every event as its JSON frame."""

    __slots__ = ()

    def render(self, event: AnyMessage) -> bytes:
        return encode(event)

    def __repr__(self) -> str:
        return "native"


NATIVE: Final = NativeWire()


class NativeSession:
    """One native client's side of the conversation."""

    __slots__ = ("_connection", "_decoder", "_frames_before_register")
    wire: Final = NATIVE
    kind: Final = "native"

    def __init__(self, connection: Connection) -> None:
        config = connection.config
        self._connection = connection
        self._decoder = Decoder(
            config.max_frame_bytes, max_text_bytes=config.max_text_bytes, types=ClientMessage
        )
        self._frames_before_register = 0

    def receive(self, data: bytes) -> None:
        self._decoder.receive_data(data)

    def next_request(self) -> AnyMessage | None:
        """The next decoded request, or ``None``; raises ``ProtocolError`` for a bad frame."""
        connection = self._connection
        if not connection.registered:
            try:
                message = self._decoder.next_message()
            except ProtocolError:
                self._count_unregistered_frame()
                raise
            if message is not None:
                self._count_unregistered_frame()
            return message
        return self._decoder.next_message()

    def pending_requests(self) -> int:
        return self._decoder.complete_frames()

    def _count_unregistered_frame(self) -> None:
        self._frames_before_register += 1
        limit = self._connection.config.pre_register_max_frames
        if self._frames_before_register > limit:
            raise ProtocolError(
                ErrorCode.REGISTER_ABUSE,
                f"more than {limit} frames without a successful hello",
                fatal=True,
            )

    def handle(self, request: AnyMessage) -> None:
        connection = self._connection
        core = connection.core
        match request:
            case Say(text=text, action=action, client_id=client_id, room=room, to=to):
                self._require_registered(client_id)
                if to is not None:
                    core.direct(connection, to, text, action=action, client_id=client_id)
                else:
                    core.say(connection, text, action=action, client_id=client_id, room=room)
            case Ping(token=token):
                connection.send(Pong(token=token))
            case Pong():
                pass  # any traffic counts as a sign of life; the connection noted it already
            case Who(room=room):
                self._require_registered()
                core.who(connection, room)
            case Join(room=room):
                self._require_registered()
                core.join(connection, room)
            case Part(room=room):
                self._require_registered()
                core.part(connection, room)
            case ListRooms():
                self._require_registered()
                core.list_rooms(connection)
            case SetTopic(room=room, topic=topic):
                self._require_registered()
                core.set_topic(connection, room, topic)
            case GetHistory(room=room, before=before, after=after, limit=limit):
                self._require_registered()
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
            case _:  # pragma: no cover - the decoder accepts only ClientMessage
                raise ProtocolError(ErrorCode.UNKNOWN_TYPE, "unexpected message")

    def _require_registered(self, client_id: str | None = None) -> None:
        if not self._connection.registered:
            error = ProtocolError(ErrorCode.NOT_REGISTERED, "send hello first")
            error.client_id = client_id
            raise error

    def cancel_timers(self) -> None:
        """Native sessions keep no timers of their own."""
