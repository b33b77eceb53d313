"""Rooms, direct messages and history: the room name rules and the codec's content checks.

The name functions are checked against tables and against the rule as written in the protocol
("``#`` and then a valid user name"); the codec on real bytes through the real Decoder.
"""

from __future__ import annotations

import string

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from wirechat_common import (
    DEFAULT_ROOM,
    MAX_HISTORY,
    MAX_NAME_LENGTH,
    MAX_ROOM_LENGTH,
    MAX_SERVER_FRAME_BYTES,
    MAX_TEXT_BYTES,
    MAX_TOPIC_BYTES,
    AnyMessage,
    ClientMessage,
    Decoder,
    ErrorCode,
    GetHistory,
    Hello,
    History,
    Join,
    ListRooms,
    Message,
    Part,
    Ping,
    ProtocolError,
    RoomInfo,
    RoomList,
    RoomSummary,
    Say,
    ServerMessage,
    SetTopic,
    Topic,
    Welcome,
    Who,
    check_conversation,
    check_room,
    encode,
    is_valid_name,
    is_valid_room,
    name_key,
    room_key,
)

NAME_FIRST = string.ascii_letters + string.digits
NAME_ALPHABET = NAME_FIRST + "_.-"
names = st.builds(
    str.__add__,
    st.text(NAME_FIRST, min_size=1, max_size=1),
    st.text(NAME_ALPHABET, max_size=MAX_NAME_LENGTH - 1),
)
rooms = names.map("#".__add__)
# Strings close to room names: the name alphabet, '#', '@', and characters that must not pass
# (space, NUL, newline, a Cyrillic a, the Kelvin sign, a zero-width space, a colon).
near_rooms = st.text(
    "#@" + NAME_ALPHABET + " \x00\n\u0430\u212a\u200b:", max_size=MAX_ROOM_LENGTH + 3
)


def decode_one(frame: bytes, *, types: object = ClientMessage) -> AnyMessage:
    (message,) = Decoder(types=types).feed(frame)
    return message


def refusal(frame: bytes, *, types: object = ClientMessage) -> ProtocolError:
    decoder = Decoder(types=types)
    with pytest.raises(ProtocolError) as caught:
        decoder.feed(frame)
    error = caught.value
    assert not error.fatal
    assert error.detail
    # Not fatal: the bad frame is consumed and the decoder carries on.
    assert decoder.feed(b'{"type":"ping"}\n') == [Ping()]
    return error


# -- is_valid_room, check_room -----------------------------------------------------------------

VALID_ROOMS = [
    pytest.param("#lobby", id="lobby"),
    pytest.param(DEFAULT_ROOM, id="the default room"),
    pytest.param("#Lobby", id="capitals"),
    pytest.param("#a", id="shortest"),
    pytest.param("#0", id="one digit"),
    pytest.param("#" + "r" * MAX_NAME_LENGTH, id="33 characters"),
    pytest.param("#Az09_.-", id="every character class"),
    pytest.param("#x--", id="hyphens after the first"),
    pytest.param("#dev.team_1", id="dot and underscore"),
]

INVALID_ROOMS = [
    pytest.param("", id="empty"),
    pytest.param("lobby", id="no #"),
    pytest.param("#", id="only #"),
    pytest.param("##lobby", id="two #"),
    pytest.param("#-x", id="leading hyphen"),
    pytest.param("#_x", id="leading underscore"),
    pytest.param("#.x", id="leading dot"),
    pytest.param("#" + "r" * (MAX_NAME_LENGTH + 1), id="34 characters"),
    pytest.param("#my room", id="space"),
    pytest.param(" #lobby", id="leading space"),
    pytest.param("#lobby ", id="trailing space"),
    pytest.param("#lobby\n", id="trailing newline"),
    pytest.param("#lob\x00by", id="NUL"),
    pytest.param("#caf\u00e9", id="accented"),
    pytest.param("#l\u043ebby", id="Cyrillic o"),
    pytest.param("#\u212a", id="Kelvin sign"),
    pytest.param("#lobby\u200b", id="zero-width space"),
    pytest.param("#\uff41", id="fullwidth a"),
    pytest.param("#a@b", id="at sign"),
    pytest.param("#a:b", id="colon"),
    pytest.param("#a#b", id="# inside"),
    pytest.param("@bob", id="a direct-message target"),
    pytest.param("@", id="all direct messages"),
    pytest.param("&lobby", id="IRC local channel prefix"),
]


@pytest.mark.parametrize("room", VALID_ROOMS)
def test_check_room_accepts(room: str) -> None:
    assert is_valid_room(room)
    assert check_room(room) == room


@pytest.mark.parametrize("room", INVALID_ROOMS)
def test_check_room_refuses(room: str) -> None:
    assert not is_valid_room(room)
    with pytest.raises(ProtocolError) as caught:
        check_room(room)
    assert caught.value.code == ErrorCode.INVALID_ROOM
    assert caught.value.detail
    assert not caught.value.fatal


def test_room_length_is_a_name_and_its_hash() -> None:
    assert MAX_ROOM_LENGTH == MAX_NAME_LENGTH + 1 == 33


@given(near_rooms | rooms)
@example("#" + "a" * MAX_NAME_LENGTH)
@example("#" + "a" * (MAX_NAME_LENGTH + 1))
@example("#")
@example("")
def test_is_valid_room_iff_hash_and_a_valid_name(room: str) -> None:
    """The rule as the protocol states it: a room is "#" followed by a valid user name."""
    expected = room[:1] == "#" and is_valid_name(room[1:])
    assert is_valid_room(room) is expected
    # And spelled out from the character rules, independently of is_valid_name.
    spelled_out = (
        2 <= len(room) <= MAX_ROOM_LENGTH
        and room[0] == "#"
        and room[1] in NAME_FIRST
        and all(c in NAME_ALPHABET for c in room[2:])
    )
    assert expected is spelled_out
    if expected:
        assert check_room(room) == room
    else:
        with pytest.raises(ProtocolError) as caught:
            check_room(room)
        assert caught.value.code == ErrorCode.INVALID_ROOM


@given(names)
def test_every_valid_name_makes_a_valid_room(name: str) -> None:
    assert is_valid_room("#" + name)
    assert not is_valid_room(name)


# -- room_key ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("#lobby", "#Lobby", True),
        ("#LOBBY", "#lobby", True),
        ("#Dev.Team_1", "#dev.team_1", True),
        ("#lobby", "#lobby_", False),
        ("#a.b", "#a-b", False),
        ("#dev", "@dev", False),
    ],
)
def test_room_key(a: str, b: str, same: bool) -> None:
    assert (room_key(a) == room_key(b)) is same


@given(rooms, st.data())
def test_room_key_ignores_ascii_case_only(room: str, data: st.DataObject) -> None:
    flips = data.draw(st.lists(st.booleans(), min_size=len(room), max_size=len(room)))
    variant = "".join(c.swapcase() if flip else c for c, flip in zip(room, flips, strict=True))
    assert room_key(variant) == room_key(room)
    assert room_key(room) == "#" + name_key(room[1:])
    assert is_valid_room(room_key(room))


# -- check_conversation ------------------------------------------------------------------------


@pytest.mark.parametrize("target", ["#lobby", "#Dev", "@", "@bob", "@Bob_2", "@" + "b" * 32])
def test_check_conversation_accepts(target: str) -> None:
    assert check_conversation(target) == target


@pytest.mark.parametrize(
    "target",
    ["", "lobby", "bob", "#", "@@", "@bad name", "@_x", "@#dev", "@" + "b" * 33, "@bob\n", " @"],
)
def test_check_conversation_refuses(target: str) -> None:
    with pytest.raises(ProtocolError) as caught:
        check_conversation(target)
    assert caught.value.code == ErrorCode.INVALID_ROOM
    assert caught.value.detail
    assert not caught.value.fatal


@given(near_rooms | rooms | names.map("@".__add__))
@example("@")
@example("@@")
def test_check_conversation_is_a_room_or_at_or_at_a_name(target: str) -> None:
    expected = (
        is_valid_room(target) or target == "@" or (target[:1] == "@" and is_valid_name(target[1:]))
    )
    if expected:
        assert check_conversation(target) == target
    else:
        with pytest.raises(ProtocolError) as caught:
            check_conversation(target)
        assert caught.value.code == ErrorCode.INVALID_ROOM


# -- say: room or to, never both ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        pytest.param(b'{"type":"say","text":"hi"}\n', Say(text="hi"), id="no room: #lobby"),
        pytest.param(
            b'{"type":"say","text":"hi","room":"#dev"}\n', Say(text="hi", room="#dev"), id="room"
        ),
        pytest.param(b'{"type":"say","text":"hi","to":"bob"}\n', Say(text="hi", to="bob"), id="to"),
        pytest.param(
            b'{"type":"say","text":"hi","room":"#dev","to":null}\n',
            Say(text="hi", room="#dev"),
            id="room and a null to",
        ),
        pytest.param(
            b'{"type":"say","text":"hi","room":null,"to":"bob"}\n',
            Say(text="hi", to="bob"),
            id="a null room and to",
        ),
    ],
)
def test_say_targets(frame: bytes, expected: Say) -> None:
    assert decode_one(frame) == expected


@pytest.mark.parametrize(
    ("frame", "code", "client_id"),
    [
        pytest.param(
            b'{"type":"say","text":"hi","client_id":"c1","room":"#dev","to":"bob"}\n',
            ErrorCode.BAD_REQUEST,
            "c1",
            id="room and to",
        ),
        pytest.param(
            b'{"type":"say","text":"hi","room":"#dev","to":"bob"}\n',
            ErrorCode.BAD_REQUEST,
            None,
            id="room and to without client_id",
        ),
        pytest.param(
            b'{"type":"say","text":"hi","client_id":"c2","room":"lobby"}\n',
            ErrorCode.INVALID_ROOM,
            "c2",
            id="room without #",
        ),
        pytest.param(
            b'{"type":"say","text":"hi","client_id":"c3","to":"bo b"}\n',
            ErrorCode.INVALID_NAME,
            "c3",
            id="to an invalid name",
        ),
        pytest.param(
            b'{"type":"say","text":"hi","client_id":"c4","to":"#dev"}\n',
            ErrorCode.INVALID_NAME,
            "c4",
            id="to a room",
        ),
        pytest.param(
            b'{"type":"say","text":"\\u001b","client_id":"c5","to":"bob"}\n',
            ErrorCode.INVALID_TEXT,
            "c5",
            id="bad text to a user",
        ),
        pytest.param(
            b'{"type":"say","text":"hi","client_id":"c6","room":5}\n',
            ErrorCode.INVALID_FIELD,
            None,
            id="room not a string: the frame is not a say, nothing to echo",
        ),
    ],
)
def test_say_refusals_echo_the_client_id(
    frame: bytes, code: ErrorCode, client_id: str | None
) -> None:
    error = refusal(frame)
    assert error.code == code
    assert error.client_id == client_id


def test_a_refused_say_keeps_the_messages_before_it_and_the_ones_after() -> None:
    decoder = Decoder(types=ClientMessage)
    stream = (
        b'{"type":"join","room":"#dev"}\n'
        b'{"type":"say","text":"x","client_id":"k","room":"#dev","to":"bob"}\n'
        b'{"type":"say","text":"y","room":"#dev"}\n'
    )
    with pytest.raises(ProtocolError) as caught:
        decoder.feed(stream)
    assert caught.value.code == ErrorCode.BAD_REQUEST
    assert caught.value.client_id == "k"
    assert caught.value.messages == [Join(room="#dev")]
    assert decoder.feed(b"") == [Say(text="y", room="#dev")]
    assert decoder.buffered == 0


# -- hello -------------------------------------------------------------------------------------


def test_hello_resume_fields() -> None:
    frame = (
        b'{"type":"hello","name":"alice","version":1,"session":"s-1",'
        b'"rooms":{"#lobby":41,"#Dev":0},"dm_after":17}\n'
    )
    message = decode_one(frame)
    assert message == Hello(
        name="alice", session="s-1", rooms={"#lobby": 41, "#Dev": 0}, dm_after=17
    )
    assert isinstance(message, Hello)
    assert message.rooms is not None
    assert list(message.rooms) == ["#lobby", "#Dev"]  # the order given is kept
    assert encode(message) == frame


def test_hello_with_no_rooms_is_not_hello_without_rooms() -> None:
    assert decode_one(b'{"type":"hello","name":"a","rooms":{}}\n') == Hello(name="a", rooms={})
    assert decode_one(b'{"type":"hello","name":"a"}\n') == Hello(name="a", rooms=None)
    assert (
        encode(Hello(name="a", rooms={})) == b'{"type":"hello","name":"a","version":1,"rooms":{}}\n'
    )
    assert encode(Hello(name="a")) == b'{"type":"hello","name":"a","version":1}\n'


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        (b'{"type":"hello","name":"a","rooms":{"lobby":0}}\n', ErrorCode.INVALID_ROOM),
        (b'{"type":"hello","name":"a","rooms":{"#dev":1,"#":0}}\n', ErrorCode.INVALID_ROOM),
        (b'{"type":"hello","name":"_a","rooms":{"lobby":0}}\n', ErrorCode.INVALID_NAME),
        (b'{"type":"hello","name":"a","rooms":{"#dev":-1}}\n', ErrorCode.INVALID_FIELD),
        (b'{"type":"hello","name":"a","rooms":["#dev"]}\n', ErrorCode.INVALID_FIELD),
        (b'{"type":"hello","name":"a","session":""}\n', ErrorCode.INVALID_FIELD),
        (b'{"type":"hello","name":"a","dm_after":1.5}\n', ErrorCode.INVALID_FIELD),
    ],
)
def test_hello_refusals(frame: bytes, code: ErrorCode) -> None:
    error = refusal(frame)
    assert error.code == code
    assert error.client_id is None


# -- join, part, who, rooms, set_topic ---------------------------------------------------------


@pytest.mark.parametrize("tag", ["join", "part"])
@pytest.mark.parametrize(
    ("room", "valid"),
    [
        ("#dev", True),
        ("#" + "r" * MAX_NAME_LENGTH, True),
        ("lobby", False),
        ("#", False),
        ("#-x", False),
        ("#" + "r" * (MAX_NAME_LENGTH + 1), False),
        ("#caf\u00e9", False),
        ("@bob", False),
    ],
)
def test_join_and_part_check_the_room(tag: str, room: str, valid: bool) -> None:
    frame = f'{{"type":"{tag}","room":"{room}"}}\n'.encode()
    if valid:
        expected = Join(room=room) if tag == "join" else Part(room=room)
        assert decode_one(frame) == expected
        assert encode(expected) == frame
    else:
        assert refusal(frame).code == ErrorCode.INVALID_ROOM


def test_who_with_and_without_a_room() -> None:
    assert decode_one(b'{"type":"who"}\n') == Who()
    assert decode_one(b'{"type":"who","room":"#dev"}\n') == Who(room="#dev")
    assert decode_one(b'{"type":"who","room":null}\n') == Who()
    assert refusal(b'{"type":"who","room":"dev"}\n').code == ErrorCode.INVALID_ROOM


def test_rooms_is_a_request_and_room_an_answer() -> None:
    assert decode_one(b'{"type":"rooms"}\n') == ListRooms()
    assert encode(ListRooms()) == b'{"type":"rooms"}\n'
    refused = refusal(b'{"type":"room","room":"#dev","users":[]}\n')
    assert refused.code == ErrorCode.UNKNOWN_TYPE
    assert decode_one(b'{"type":"room","room":"#dev","users":[]}\n', types=ServerMessage) == (
        RoomInfo(room="#dev", users=[])
    )
    assert refusal(b'{"type":"rooms"}\n', types=ServerMessage).code == ErrorCode.UNKNOWN_TYPE


@pytest.mark.parametrize(
    ("topic", "code"),
    [
        pytest.param("", None, id="empty clears"),
        pytest.param("release on Friday \u2615", None, id="plain"),
        pytest.param("a\tb", None, id="tab"),
        pytest.param("a" * MAX_TOPIC_BYTES, None, id="512 bytes"),
        pytest.param("a" * (MAX_TOPIC_BYTES - 2) + "\u00e9", None, id="512 bytes, 2-byte end"),
        pytest.param("\u00e9" * (MAX_TOPIC_BYTES // 2), None, id="256 two-byte characters"),
        pytest.param("a" * (MAX_TOPIC_BYTES + 1), ErrorCode.TEXT_TOO_LONG, id="513 bytes"),
        pytest.param(
            "a" * (MAX_TOPIC_BYTES - 1) + "\u00e9", ErrorCode.TEXT_TOO_LONG, id="513 bytes, 2-byte"
        ),
        pytest.param("\x1b[2J", ErrorCode.INVALID_TEXT, id="ESC"),
        pytest.param("a\nb", ErrorCode.INVALID_TEXT, id="LF"),
        pytest.param("a\u202eb", ErrorCode.INVALID_TEXT, id="RLO"),
        pytest.param("\x9b2J", ErrorCode.INVALID_TEXT, id="CSI"),
    ],
)
def test_set_topic_follows_the_text_rules_within_512_bytes(
    topic: str, code: ErrorCode | None
) -> None:
    frame = encode(SetTopic(room="#dev", topic=topic))
    if code is None:
        assert decode_one(frame) == SetTopic(room="#dev", topic=topic)
    else:
        assert refusal(frame).code == code


@pytest.mark.parametrize("max_text_bytes", [16, MAX_TEXT_BYTES, 4 * MAX_TEXT_BYTES])
def test_the_topic_limit_does_not_follow_max_text_bytes(max_text_bytes: int) -> None:
    """The topic limit is the protocol's, not the server's text setting."""
    decoder = Decoder(max_text_bytes=max_text_bytes, types=ClientMessage)
    at_limit = SetTopic(room="#dev", topic="t" * MAX_TOPIC_BYTES)
    assert decoder.feed(encode(at_limit)) == [at_limit]
    with pytest.raises(ProtocolError) as caught:
        decoder.feed(encode(SetTopic(room="#dev", topic="t" * (MAX_TOPIC_BYTES + 1))))
    assert caught.value.code == ErrorCode.TEXT_TOO_LONG


def test_set_topic_checks_the_room() -> None:
    assert refusal(b'{"type":"set_topic","room":"dev","topic":"x"}\n').code == (
        ErrorCode.INVALID_ROOM
    )


# -- get_history -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        (b'{"type":"get_history","room":"#dev"}\n', GetHistory(room="#dev")),
        (b'{"type":"get_history","room":"@"}\n', GetHistory(room="@")),
        (b'{"type":"get_history","room":"@bob","limit":5}\n', GetHistory(room="@bob", limit=5)),
        (
            b'{"type":"get_history","room":"#dev","before":120,"limit":50}\n',
            GetHistory(room="#dev", before=120, limit=50),
        ),
        (b'{"type":"get_history","room":"#dev","after":0}\n', GetHistory(room="#dev", after=0)),
        (b'{"type":"get_history","room":"#dev","limit":0}\n', GetHistory(room="#dev", limit=0)),
        (
            b'{"type":"get_history","room":"#dev","before":null,"after":3}\n',
            GetHistory(room="#dev", after=3),
        ),
    ],
)
def test_get_history_accepts(frame: bytes, expected: GetHistory) -> None:
    assert decode_one(frame) == expected


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        (b'{"type":"get_history","room":"@bad name"}\n', ErrorCode.INVALID_ROOM),
        (b'{"type":"get_history","room":"@@"}\n', ErrorCode.INVALID_ROOM),
        (b'{"type":"get_history","room":"dev"}\n', ErrorCode.INVALID_ROOM),
        (b'{"type":"get_history","room":""}\n', ErrorCode.INVALID_ROOM),
        (b'{"type":"get_history","room":"#dev","limit":-1}\n', ErrorCode.INVALID_FIELD),
        (b'{"type":"get_history","room":"#dev","before":"9"}\n', ErrorCode.INVALID_FIELD),
        (b'{"type":"get_history","room":"#dev","after":2e3}\n', ErrorCode.INVALID_FIELD),
        (b'{"type":"get_history"}\n', ErrorCode.INVALID_FIELD),
        (
            b'{"type":"get_history","room":"#dev","before":100,"after":50}\n',
            ErrorCode.BAD_REQUEST,
        ),
        (b'{"type":"get_history","room":"@","before":0,"after":0}\n', ErrorCode.BAD_REQUEST),
    ],
)
def test_get_history_refusals(frame: bytes, code: ErrorCode) -> None:
    error = refusal(frame)
    assert error.code == code
    assert error.client_id is None


# -- server frames -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "frame"),
    [
        (
            Welcome(name="a", users=["a"], version=1, session="s", max_history=200, max_rooms=50),
            b'{"type":"welcome","name":"a","users":["a"],"version":1,"session":"s",'
            b'"max_history":200,"max_rooms":50}\n',
        ),
        (
            Message(id=1, ts=2, sender="b", text="x", room="#dev"),
            b'{"type":"message","id":1,"ts":2,"sender":"b","text":"x","room":"#dev"}\n',
        ),
        (
            Message(id=1, ts=2, sender="b", text="x", to="a"),
            b'{"type":"message","id":1,"ts":2,"sender":"b","text":"x","to":"a"}\n',
        ),
        (RoomInfo(room="#dev", users=["a"]), b'{"type":"room","room":"#dev","users":["a"]}\n'),
        (
            Topic(room="#dev", topic="", by="a", ts=3),
            b'{"type":"topic","room":"#dev","topic":"","by":"a","ts":3}\n',
        ),
        (
            RoomList(
                rooms=[RoomSummary(room="#a", users=1), RoomSummary(room="#b", users=2, topic="t")]
            ),
            b'{"type":"room_list","rooms":[{"room":"#a","users":1},'
            b'{"room":"#b","users":2,"topic":"t"}]}\n',
        ),
        (
            History(room="@", messages=[Message(id=5, ts=6, sender="b", text="x", to="a")]),
            b'{"type":"history","room":"@","messages":'
            b'[{"type":"message","id":5,"ts":6,"sender":"b","text":"x","to":"a"}]}\n',
        ),
    ],
)
def test_server_frames_encode_and_decode(message: AnyMessage, frame: bytes) -> None:
    assert encode(message) == frame
    assert decode_one(frame, types=ServerMessage) == message


def test_a_full_history_page_fits_a_server_frame() -> None:
    """MAX_HISTORY messages of the largest text, every byte of it escaped, in the longest room
    with the longest names: a client reading MAX_SERVER_FRAME_BYTES frames can take it."""
    longest_room = "#" + "r" * MAX_NAME_LENGTH
    text = '"' * MAX_TEXT_BYTES  # each becomes \" on the wire
    page = History(
        room=longest_room,
        messages=[
            Message(
                id=2**53 - MAX_HISTORY + i,  # oldest first, the largest ids
                ts=2**53 - 1,
                sender="s" * MAX_NAME_LENGTH,
                text=text,
                action=True,
                room=longest_room,
            )
            for i in range(MAX_HISTORY)
        ],
        more=True,
    )
    frame = encode(page)
    assert len(frame) - 1 <= MAX_SERVER_FRAME_BYTES
    decoder = Decoder(MAX_SERVER_FRAME_BYTES, types=ServerMessage)
    assert decoder.feed(frame[:-1]) == []
    assert decoder.feed(frame[-1:]) == [page]
