"""wirechat's wire protocol, sans-I/O: message types, the codec, the name and text rules, and
the wording that shows events to people.

Bytes in, messages out; messages in, bytes out. Nothing here touches a socket, sleeps or logs, so
any client, bot or server can use it with whatever I/O it likes::

    from wirechat_common import Decoder, Hello, Say, encode

    sock.sendall(encode(Hello(name="alice")) + encode(Say(text="hi all")))
    decoder = Decoder()
    for message in decoder.feed(sock.recv(65536)):
        print(message)

The protocol itself is specified in ``docs/protocol.md``.
"""

from __future__ import annotations

from .codec import Decoder, encode
from .errors import ErrorCode, ProtocolError
from .framing import LineFramer
from .limits import (
    DEFAULT_ROOM,
    MAX_FRAME_BYTES,
    MAX_HISTORY,
    MAX_NAME_LENGTH,
    MAX_ROOM_LENGTH,
    MAX_SERVER_FRAME_BYTES,
    MAX_TEXT_BYTES,
    MAX_TOPIC_BYTES,
    PROTOCOL_VERSION,
)
from .messages import (
    MESSAGE_TYPES,
    Ack,
    AnyMessage,
    Bye,
    ClientMessage,
    Error,
    GetHistory,
    Hello,
    History,
    Join,
    Joined,
    LeaveReason,
    Left,
    ListRooms,
    Message,
    Part,
    Ping,
    Pong,
    RoomInfo,
    RoomList,
    RoomSummary,
    Say,
    ServerMessage,
    SetTopic,
    Topic,
    Users,
    Welcome,
    Who,
)
from .names import (
    check_conversation,
    check_name,
    check_room,
    is_valid_name,
    is_valid_room,
    name_key,
    room_key,
)
from .text import check_text, sanitize_text
from .wording import (
    LAB_LEAVE_WORDING,
    LOG_LEAVE_WORDING,
    NAMES_SHOWN,
    LeaveWording,
    leave_cause,
    people_here,
)

__all__ = [
    "DEFAULT_ROOM",
    "LAB_LEAVE_WORDING",
    "LOG_LEAVE_WORDING",
    "MAX_FRAME_BYTES",
    "MAX_HISTORY",
    "MAX_NAME_LENGTH",
    "MAX_ROOM_LENGTH",
    "MAX_SERVER_FRAME_BYTES",
    "MAX_TEXT_BYTES",
    "MAX_TOPIC_BYTES",
    "MESSAGE_TYPES",
    "NAMES_SHOWN",
    "PROTOCOL_VERSION",
    "Ack",
    "AnyMessage",
    "Bye",
    "ClientMessage",
    "Decoder",
    "Error",
    "ErrorCode",
    "GetHistory",
    "Hello",
    "History",
    "Join",
    "Joined",
    "LeaveReason",
    "LeaveWording",
    "Left",
    "LineFramer",
    "ListRooms",
    "Message",
    "Part",
    "Ping",
    "Pong",
    "ProtocolError",
    "RoomInfo",
    "RoomList",
    "RoomSummary",
    "Say",
    "ServerMessage",
    "SetTopic",
    "Topic",
    "Users",
    "Welcome",
    "Who",
    "check_conversation",
    "check_name",
    "check_room",
    "check_text",
    "encode",
    "is_valid_name",
    "is_valid_room",
    "leave_cause",
    "name_key",
    "people_here",
    "room_key",
    "sanitize_text",
]
