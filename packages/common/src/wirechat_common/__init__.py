"""wirechat's wire protocol, sans-I/O: message types, the codec, and the name and text rules.

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
    MAX_FRAME_BYTES,
    MAX_NAME_LENGTH,
    MAX_SERVER_FRAME_BYTES,
    MAX_TEXT_BYTES,
    PROTOCOL_VERSION,
)
from .messages import (
    MESSAGE_TYPES,
    Ack,
    AnyMessage,
    Bye,
    ClientMessage,
    Error,
    Hello,
    Joined,
    LeaveReason,
    Left,
    Message,
    Ping,
    Pong,
    Say,
    ServerMessage,
    Users,
    Welcome,
    Who,
)
from .names import check_name, is_valid_name, name_key
from .text import check_text, sanitize_text

__all__ = [
    "MAX_FRAME_BYTES",
    "MAX_NAME_LENGTH",
    "MAX_SERVER_FRAME_BYTES",
    "MAX_TEXT_BYTES",
    "MESSAGE_TYPES",
    "PROTOCOL_VERSION",
    "Ack",
    "AnyMessage",
    "Bye",
    "ClientMessage",
    "Decoder",
    "Error",
    "ErrorCode",
    "Hello",
    "Joined",
    "LeaveReason",
    "Left",
    "LineFramer",
    "Message",
    "Ping",
    "Pong",
    "ProtocolError",
    "Say",
    "ServerMessage",
    "Users",
    "Welcome",
    "Who",
    "check_name",
    "check_text",
    "encode",
    "is_valid_name",
    "name_key",
    "sanitize_text",
]
