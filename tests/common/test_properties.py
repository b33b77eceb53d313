"""Property tests: round trips, chunking, hostile bytes, and the text and name rules."""

from __future__ import annotations

import itertools
import string

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.support.cases import CODEC_CODES
from wirechat_common import (
    MAX_NAME_LENGTH,
    MAX_TEXT_BYTES,
    MAX_TOPIC_BYTES,
    Ack,
    AnyMessage,
    Bye,
    ClientMessage,
    Decoder,
    Error,
    ErrorCode,
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
    ProtocolError,
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
    check_conversation,
    check_name,
    check_room,
    check_text,
    encode,
    is_valid_name,
    name_key,
    sanitize_text,
)
from wirechat_common.text import FORBIDDEN_TEXT_RE

# -- strategies --------------------------------------------------------------------------------

NAME_ALPHABET = string.ascii_letters + string.digits + "_.-"

# The characters text may not hold, written out from the rules in text.py's docstring (not from
# its regex, so that the two can disagree): C0 but tab, DEL and C1, LS and PS, bidi controls.
FORBIDDEN_CHARS = (
    "".join(chr(c) for c in range(0x20) if c != 0x09)
    + "".join(chr(c) for c in range(0x7F, 0xA0))
    + "\u2028\u2029"
    + "".join(chr(c) for c in range(0x202A, 0x202F))
    + "".join(chr(c) for c in range(0x2066, 0x206A))
)

NAME_FIRST = string.ascii_letters + string.digits
names = st.builds(
    str.__add__,
    st.text(NAME_FIRST, min_size=1, max_size=1),
    st.text(NAME_ALPHABET, max_size=MAX_NAME_LENGTH - 1),
)
# Tokens: 1-64 printable ASCII characters, no space.
tokens = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=64)
optional_tokens = st.none() | tokens
# Any code point but surrogates (not encodable as UTF-8).
any_chars = st.characters(exclude_categories=["Cs"])
any_strings = st.text(any_chars, max_size=40)
optional_strings = st.none() | any_strings
# At most MAX_TEXT_BYTES // 4 characters, so at most MAX_TEXT_BYTES bytes of UTF-8 whatever they
# are; the long tail is drawn as well, up to the exact limit.
text_chars = st.characters(exclude_categories=["Cs"], exclude_characters=FORBIDDEN_CHARS)
short_texts = st.text(text_chars, min_size=1, max_size=MAX_TEXT_BYTES // 4)
long_ascii_texts = st.integers(1, MAX_TEXT_BYTES).map(lambda n: "x" * n)
texts = short_texts | long_ascii_texts
# Wire integers are 0 to 2**53 - 1, what every JSON implementation reads exactly.
ids = st.integers(0, 2**53 - 1)

# Rooms are "#" and a name; history also names "@" (all direct messages) and "@name".
rooms = names.map("#".__add__)
optional_rooms = st.none() | rooms
conversations = rooms | st.just("@") | names.map("@".__add__)
# Topics follow the text rules within MAX_TOPIC_BYTES, and may be empty (clearing the topic).
topics = st.just("") | st.text(text_chars, min_size=1, max_size=MAX_TOPIC_BYTES // 4)
optional_ids = st.none() | ids

# Reasons are plain strings on the wire: the known ones, or any a newer server might add.
reasons = st.sampled_from([reason.value for reason in LeaveReason]) | any_strings

client_only: st.SearchStrategy[AnyMessage] = st.one_of(
    st.builds(
        Hello,
        name=names,
        version=ids,
        session=optional_tokens,
        rooms=st.none() | st.dictionaries(rooms, ids, max_size=4),
        dm_after=optional_ids,
    ),
    # A say goes to a room or to a user, never both.
    st.builds(
        Say, text=texts, action=st.booleans(), client_id=optional_tokens, room=optional_rooms
    ),
    st.builds(Say, text=texts, action=st.booleans(), client_id=optional_tokens, to=names),
    st.builds(Who, room=optional_rooms),
    st.builds(Join, room=rooms),
    st.builds(Part, room=rooms),
    st.just(ListRooms()),
    st.builds(SetTopic, room=rooms, topic=topics),
    # A history page goes before or after an id, never both.
    st.builds(GetHistory, room=conversations, before=optional_ids, limit=optional_ids),
    st.builds(GetHistory, room=conversations, after=optional_ids, limit=optional_ids),
)
# Server text is not checked by the decoder: any string goes.
server_messages_in_history = st.builds(
    Message,
    id=ids,
    ts=ids,
    sender=names,
    text=any_strings,
    action=st.booleans(),
    room=optional_rooms,
    to=st.none() | names,
)
server_only: st.SearchStrategy[AnyMessage] = st.one_of(
    st.builds(
        Welcome,
        name=names,
        users=st.lists(names, max_size=5),
        version=ids,
        server=any_strings,
        max_text_bytes=ids,
        max_frame_bytes=ids,
        session=optional_tokens,
        max_history=ids,
        max_rooms=ids,
    ),
    server_messages_in_history,
    st.builds(Ack, id=ids, ts=ids, client_id=optional_tokens, duplicate=st.booleans()),
    st.builds(Joined, name=names, ts=ids, room=optional_rooms),
    st.builds(Left, name=names, reason=reasons, ts=ids, room=optional_rooms),
    st.builds(Users, users=st.lists(names, max_size=5), room=optional_rooms),
    st.builds(RoomInfo, room=rooms, users=st.lists(names, max_size=5), topic=any_strings),
    st.builds(Topic, room=rooms, topic=any_strings, by=names, ts=ids),
    st.builds(
        RoomList,
        rooms=st.lists(
            st.builds(RoomSummary, room=rooms, users=ids, topic=any_strings), max_size=4
        ),
    ),
    st.builds(
        History,
        room=conversations,
        messages=st.lists(server_messages_in_history, max_size=4),
        more=st.booleans(),
    ),
    st.builds(
        Error,
        code=any_strings,
        detail=any_strings,
        fatal=st.booleans(),
        client_id=optional_tokens,
    ),
)
both_ways: st.SearchStrategy[AnyMessage] = st.one_of(
    st.builds(Ping, token=optional_tokens),
    st.builds(Pong, token=optional_tokens),
    st.builds(Bye, reason=st.none() | reasons),
)
client_messages = client_only | both_ways
server_messages = server_only | both_ways
messages = client_only | server_only | both_ways


def test_forbidden_chars_match_the_regex() -> None:
    """The hand-written set above and text.FORBIDDEN_TEXT_RE agree on every code point."""
    everything = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF)
    assert set(FORBIDDEN_TEXT_RE.findall(everything)) == set(FORBIDDEN_CHARS)


# -- round trips -------------------------------------------------------------------------------


@settings(deadline=None)
@given(messages)
def test_decode_encode_round_trip(message: AnyMessage) -> None:
    frame = encode(message)
    assert frame.endswith(b"\n")
    assert frame.count(b"\n") == 1
    assert Decoder().feed(frame) == [message]


@settings(deadline=None)
@given(client_messages)
def test_client_messages_round_trip_through_a_server_decoder(message: AnyMessage) -> None:
    assert Decoder(types=ClientMessage).feed(encode(message)) == [message]


@settings(deadline=None)
@given(server_messages)
def test_server_messages_round_trip_through_a_client_decoder(message: AnyMessage) -> None:
    assert Decoder(types=ServerMessage).feed(encode(message)) == [message]


@settings(deadline=None)
@given(texts)
def test_generated_texts_are_valid(text: str) -> None:
    """The text strategy only makes what check_text accepts (else the round trips lie)."""
    assert check_text(text) == text


# -- chunking ----------------------------------------------------------------------------------


@st.composite
def streams(draw: st.DrawFn) -> tuple[list[AnyMessage], bytes]:
    """Several messages as one byte stream, with CRLF terminators and blank lines mixed in."""
    items = draw(st.lists(messages, max_size=8))
    parts: list[bytes] = []
    for item in items:
        parts.append(draw(st.sampled_from([b"", b"\n", b"\r\n", b"  \n"])))
        frame = encode(item)
        if draw(st.booleans()):
            frame = frame[:-1] + b"\r\n"
        parts.append(frame)
    return items, b"".join(parts)


@st.composite
def splits(draw: st.DrawFn, data: bytes) -> list[bytes]:
    """``data`` cut into chunks at arbitrary points (empty chunks included)."""
    cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=20)))
    bounds = [0, *cuts, len(data)]
    return [data[start:end] for start, end in itertools.pairwise(bounds)]


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_any_split_yields_the_same_messages(data: st.DataObject) -> None:
    items, stream = data.draw(streams())
    chunks = data.draw(splits(stream))
    assert b"".join(chunks) == stream
    decoder = Decoder()
    decoded: list[AnyMessage] = []
    for chunk in chunks:
        decoded.extend(decoder.feed(chunk))
    assert decoded == items
    assert decoder.buffered == 0


# -- hostile bytes -----------------------------------------------------------------------------

SEEDS = [
    b"\xff",
    b"\xc0\xaf",
    b"\xed\xa0\x80",
    b"\xef\xbb\xbf",
    b'"\\ud800"',
    b'{"type":"who","x":' + b"[" * 1000 + b"]" * 1000 + b"}",
    b'{"type":"who","x":' + b"[" * 1000 + b"}",
    b'{"type":"say","text":"text","text":"b"}',
    b'{"type":"say","te\\u0078t":"a","text":"b","n":' + b"9" * 5000 + b"}",
    b'{"type":"say","text":"a","x":"\xff"}',
    b'{"type":"say","text":"\\u001b"}',
    b'{"type":"hello","name":"\\u202e"}',
    b'{"type":"who"}',
    b'{"type":"welcome","name":"a","users":[]}',
    b'{"type":"join","room":"lobby"}',
    b'{"type":"join","room":"#lobby"}',
    b'{"type":"say","text":"a","client_id":"c","room":"#a","to":"b"}',
    b'{"type":"say","text":"a","to":"#b"}',
    b'{"type":"get_history","room":"@","before":1,"after":2}',
    b'{"type":"get_history","room":"@bad name"}',
    b'{"type":"hello","name":"a","rooms":{"#a":1,"#a":2,"b":0}}',
    b'{"type":"set_topic","room":"#a","topic":"\\u001b"}',
    b'{"type":"history","room":"#a","messages":[{"type":"message","id":1}]}',
    b"NaN",
    b"\r",
    b"\n",
    b"\x00",
]
hostile_bytes = st.lists(
    st.sampled_from(SEEDS) | st.binary(max_size=64) | st.sampled_from([b"\n", b"\r\n"]),
    max_size=12,
).map(b"".join)


def check_hostile_stream(decoder: Decoder, chunks: list[bytes], max_frame_bytes: int) -> None:
    """Feed ``chunks``; only ProtocolError may come out, and what is decoded must be valid."""
    decoded: list[AnyMessage] = []
    for chunk in chunks:
        pending = chunk
        while True:
            error: ProtocolError | None = None
            try:
                decoded.extend(decoder.feed(pending))
            except ProtocolError as caught:
                error = caught
            if error is None:
                # Everything complete has been decoded; at most one frame's worth remains.
                assert decoder.buffered <= max_frame_bytes + 1
                break
            assert error.code in CODEC_CODES
            assert error.detail
            assert error.fatal is (error.code == ErrorCode.FRAME_TOO_LARGE)
            decoded.extend(error.messages)
            if error.fatal:
                assert decoder.buffered == 0
                return
            pending = b""  # decode what followed the bad frame
    for message in decoded:
        assert_content_is_valid(message)


def assert_content_is_valid(message: AnyMessage) -> None:
    """What the decoder lets through follows the content rules (it raises otherwise)."""
    if isinstance(message, Say):
        check_text(message.text)
        assert message.room is None or message.to is None
        if message.room is not None:
            check_room(message.room)
        if message.to is not None:
            check_name(message.to)
    elif isinstance(message, Hello):
        check_name(message.name)
        for room in message.rooms or ():
            check_room(room)
    elif isinstance(message, Join | Part) or (isinstance(message, Who) and message.room):
        assert message.room is not None
        check_room(message.room)
    elif isinstance(message, SetTopic):
        check_room(message.room)
        if message.topic:
            check_text(message.topic, MAX_TOPIC_BYTES)
    elif isinstance(message, GetHistory):
        check_conversation(message.room)
        assert message.before is None or message.after is None


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=256))
@example(b"\xff\n")
@example(b"\xc0\xaf\n")
@example(b"\xed\xa0\x80\n")
@example(b'\xef\xbb\xbf{"type":"who"}\n')
@example(b'"\\ud800"\n')
@example(b'{"type":"who","x":' + b"[" * 1000 + b"]" * 1000 + b"}\n")
def test_arbitrary_bytes_only_raise_protocol_error(data: bytes) -> None:
    check_hostile_stream(Decoder(), [data], 16 * 1024)


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data(), st.sampled_from([16, 64, 16 * 1024]), st.booleans())
def test_hostile_streams_in_chunks_only_raise_protocol_error(
    data: st.DataObject, max_frame_bytes: int, client_only_decoder: bool
) -> None:
    stream = data.draw(hostile_bytes)
    chunks = data.draw(splits(stream))
    types = ClientMessage if client_only_decoder else AnyMessage
    check_hostile_stream(Decoder(max_frame_bytes, types=types), chunks, max_frame_bytes)


# -- text and names ----------------------------------------------------------------------------


@given(st.text(st.characters(exclude_categories=["Cs"])))
@example("\x1b[31m\u202e\u2028\x9b\x7f\x00\n\r\t")
def test_sanitize_text_output_has_no_forbidden_character(text: str) -> None:
    clean = sanitize_text(text)
    assert not set(clean) & set(FORBIDDEN_CHARS)
    assert len(clean) == len(text)  # one stand-in per character: nothing vanishes
    for before, after in zip(text, clean, strict=True):
        assert (before == after) is (before not in FORBIDDEN_CHARS)


@given(short_texts)
def test_sanitize_text_is_identity_on_valid_text(text: str) -> None:
    assert sanitize_text(text) == text


@given(st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=50))
def test_sanitized_text_passes_check_text(text: str) -> None:
    assert check_text(sanitize_text(text)) == sanitize_text(text)


@given(st.text(NAME_ALPHABET + "ab \x00\u0430\u212a\u200b\n", max_size=MAX_NAME_LENGTH + 3) | names)
def test_is_valid_name_agrees_with_check_name(name: str) -> None:
    expected = (
        1 <= len(name) <= MAX_NAME_LENGTH
        and name[0] in NAME_FIRST
        and all(c in NAME_ALPHABET for c in name)
    )
    assert is_valid_name(name) is expected
    if expected:
        assert check_name(name) == name
    else:
        with pytest.raises(ProtocolError) as caught:
            check_name(name)
        assert caught.value.code == ErrorCode.INVALID_NAME


@given(names, st.data())
def test_name_key_ignores_ascii_case_only(name: str, data: st.DataObject) -> None:
    flips = data.draw(st.lists(st.booleans(), min_size=len(name), max_size=len(name)))
    variant = "".join(c.swapcase() if flip else c for c, flip in zip(name, flips, strict=True))
    assert name_key(variant) == name_key(name)
    assert name_key(name.upper()) == name_key(name.lower()) == name_key(name)
    assert is_valid_name(name_key(name))


@given(names, st.data())
def test_name_keys_clash_exactly_when_names_match_ignoring_case(
    a: str, data: st.DataObject
) -> None:
    # b is unrelated, a case variant of a, or a with one character changed: clashes are common.
    def one_changed(name: str) -> st.SearchStrategy[str]:
        return st.tuples(st.integers(0, len(name) - 1), st.sampled_from(NAME_FIRST)).map(
            lambda edit: name[: edit[0]] + edit[1] + name[edit[0] + 1 :]
        )

    b = data.draw(names | st.just(a.swapcase()) | st.just(a.upper()) | one_changed(a))

    def fold(name: str) -> str:
        return "".join(chr(ord(c) + 32) if "A" <= c <= "Z" else c for c in name)

    assert (name_key(a) == name_key(b)) is (fold(a) == fold(b))
