"""Decoder.feed semantics and encode output, on real bytes through the real codec."""

from __future__ import annotations

import json

import pytest

from wirechat_common import (
    MAX_FRAME_BYTES,
    Ack,
    AnyMessage,
    Bye,
    ClientMessage,
    Decoder,
    Error,
    ErrorCode,
    Hello,
    Joined,
    LeaveReason,
    Left,
    Message,
    Ping,
    Pong,
    ProtocolError,
    Say,
    ServerMessage,
    Users,
    Welcome,
    Who,
    encode,
)

WHO = b'{"type":"who"}\n'
SAY_HI = b'{"type":"say","text":"hi"}\n'
SAY_CAFE = '{"type":"say","text":"café"}\n'.encode()
PING = b'{"type":"ping","token":"t"}\n'
BAD_JSON = b'{"type":\n'
EMPTY_TEXT = b'{"type":"say","text":""}\n'


def feed_each(decoder: Decoder, chunks: list[bytes]) -> list[list[AnyMessage]]:
    """Feed ``chunks`` one by one and return what each call returned."""
    return [decoder.feed(chunk) for chunk in chunks]


# -- buffering across feeds --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("chunks", "expected"),
    [
        pytest.param(
            [b'{"type":', b'"who"}', b"\n"], [[], [], [Who()]], id="split inside the object"
        ),
        pytest.param([b'{"type":"who"}', b"\n"], [[], [Who()]], id="newline alone"),
        pytest.param([b'{"type":"who"}\r', b"\n"], [[], [Who()]], id="split inside CRLF"),
        pytest.param(
            [SAY_CAFE[:-3], SAY_CAFE[-3:]],
            [[], [Say(text="café")]],
            id="split inside a UTF-8 character",
        ),
        pytest.param(
            [WHO + b'{"type":"ping"', b',"token":"t"}\n'],
            [[Who()], [Ping(token="t")]],
            id="frame then partial",
        ),
        pytest.param([b"", b'{"type":"who"}\n', b""], [[], [Who()], []], id="empty chunks around"),
        pytest.param(
            [WHO[:3], WHO[3:] + SAY_HI[:5], SAY_HI[5:] + PING],
            [[], [Who()], [Say(text="hi"), Ping(token="t")]],
            id="frames straddling chunks",
        ),
    ],
)
def test_partial_frames_are_buffered_across_feeds(
    chunks: list[bytes], expected: list[list[AnyMessage]]
) -> None:
    assert feed_each(Decoder(), chunks) == expected


def test_byte_by_byte_feeding_yields_each_message_on_its_newline() -> None:
    stream = WHO + SAY_HI + b"\r\n" + SAY_CAFE + b'{"type":"bye","reason":"quit"}\r\n' + PING
    newline_positions = [index for index, byte in enumerate(stream) if byte == ord("\n")]
    decoder = Decoder()
    arrivals: list[tuple[int, AnyMessage]] = []
    for index in range(len(stream)):
        for message in decoder.feed(stream[index : index + 1]):
            arrivals.append((index, message))
    expected_messages = [
        Who(),
        Say(text="hi"),
        Say(text="café"),
        Bye(reason=LeaveReason.QUIT),
        Ping(token="t"),
    ]
    assert [message for _, message in arrivals] == expected_messages
    # Each message arrives with its own newline; the blank CRLF line yields nothing.
    blank_line_newline = len(WHO) + len(SAY_HI) + 1
    assert [index for index, _ in arrivals] == [
        pos for pos in newline_positions if pos != blank_line_newline
    ]
    assert decoder.buffered == 0


def test_several_frames_in_one_chunk_come_out_in_order() -> None:
    frames: list[AnyMessage] = [
        Hello(name="alice"),
        Say(text="one"),
        Say(text="two", action=True),
        Who(),
        Pong(),
        Bye(),
    ]
    stream = b"".join(encode(frame) for frame in frames)
    assert Decoder(types=ClientMessage).feed(stream) == frames


@pytest.mark.parametrize(
    "blank",
    [b"\n", b"\r\n", b"   \n", b" \t \r\n", b"\n\n\n", b"\r\n\r\n\n"],
    ids=repr,
)
def test_blank_lines_are_skipped(blank: bytes) -> None:
    decoder = Decoder()
    assert decoder.feed(blank) == []
    assert decoder.feed(blank + WHO + blank + SAY_HI + blank) == [Who(), Say(text="hi")]
    assert decoder.buffered == 0


def test_a_lone_carriage_return_is_not_a_terminator() -> None:
    decoder = Decoder()
    assert decoder.feed(b'{"type":"who"}\r{"type":"who"}') == []
    with pytest.raises(ProtocolError) as caught:
        decoder.feed(b"\n")
    assert caught.value.code == ErrorCode.BAD_JSON


# -- an error in the middle of a chunk ---------------------------------------------------------


@pytest.mark.parametrize(
    ("stream", "before", "code", "after", "rest"),
    [
        pytest.param(WHO + BAD_JSON + SAY_HI, [Who()], "bad_json", [Say(text="hi")], b"", id="mid"),
        pytest.param(BAD_JSON + WHO, [], "bad_json", [Who()], b"", id="first"),
        pytest.param(
            WHO + SAY_HI + BAD_JSON, [Who(), Say(text="hi")], "bad_json", [], b"", id="last"
        ),
        pytest.param(
            WHO + PING + EMPTY_TEXT + SAY_HI + b'{"type":"w',
            [Who(), Ping(token="t")],
            "invalid_text",
            [Say(text="hi")],
            b'{"type":"w',
            id="then a partial frame",
        ),
        pytest.param(
            WHO + b'{"type":"hello","name":"a b"}\r\n' + b"\n" + WHO,
            [Who()],
            "invalid_name",
            [Who()],
            b"",
            id="crlf and blank line after",
        ),
        pytest.param(
            WHO + b'{"type":"say","text":"a\xffb"}\n' + WHO,
            [Who()],
            "bad_utf8",
            [Who()],
            b"",
            id="bad utf-8",
        ),
        pytest.param(
            WHO + b'{"type":"welcome","name":"a","users":[]}\n' + WHO,
            [Who()],
            "unknown_type",
            [Who()],
            b"",
            id="server message to a server",
        ),
    ],
)
def test_error_in_the_middle(
    stream: bytes, before: list[AnyMessage], code: str, after: list[AnyMessage], rest: bytes
) -> None:
    decoder = Decoder(types=ClientMessage)
    with pytest.raises(ProtocolError) as caught:
        decoder.feed(stream)
    assert caught.value.code == code
    assert not caught.value.fatal
    assert caught.value.messages == before
    assert decoder.feed(b"") == after
    assert decoder.buffered == len(rest)


def test_two_bad_frames_in_one_chunk_surface_one_at_a_time() -> None:
    decoder = Decoder()
    stream = WHO + BAD_JSON + SAY_HI + EMPTY_TEXT + PING
    with pytest.raises(ProtocolError) as first:
        decoder.feed(stream)
    assert (first.value.code, first.value.messages) == ("bad_json", [Who()])
    with pytest.raises(ProtocolError) as second:
        decoder.feed(b"")
    assert (second.value.code, second.value.messages) == ("invalid_text", [Say(text="hi")])
    assert decoder.feed(b"") == [Ping(token="t")]
    assert decoder.feed(b"") == []


def test_new_data_fed_after_an_error_joins_the_queue() -> None:
    decoder = Decoder()
    with pytest.raises(ProtocolError):
        decoder.feed(WHO + BAD_JSON + SAY_HI)
    # Feeding new bytes instead of b"" must not lose what followed the bad frame.
    assert decoder.feed(PING) == [Say(text="hi"), Ping(token="t")]


# -- frame_too_large ---------------------------------------------------------------------------

# {"type":"who"} is 14 bytes: with max_frame_bytes=14 it is the largest frame that fits.
SMALL_MAX = 14
EXACT = b'{"type":"who"}'
assert len(EXACT) == SMALL_MAX


@pytest.mark.parametrize(
    ("chunks", "fails_at"),
    [
        pytest.param([b"x" * (SMALL_MAX + 1)], None, id="max+1 buffered waits for a CR"),
        pytest.param([b"x" * (SMALL_MAX + 2)], 0, id="max+2 at once"),
        pytest.param([b"x" * (SMALL_MAX + 1), b"x"], 1, id="max+1 then one more"),
        pytest.param([b"x"] * (SMALL_MAX + 2), SMALL_MAX + 1, id="byte by byte"),
        pytest.param([WHO + b"x" * (SMALL_MAX + 2)], 0, id="after a good frame"),
        pytest.param([EXACT, b"\r", b"\n"], None, id="exact with CRLF"),
        pytest.param([EXACT + b"\r\n"], None, id="exact with CRLF at once"),
        pytest.param([EXACT + b" ", b"\n"], 1, id="max+1 then newline"),
        pytest.param([EXACT + b"\r\r\n"], 0, id="max+1 ending in CR then CRLF"),
        pytest.param([EXACT + b"\r\r"], 0, id="max+2 ending in CRs, no newline"),
    ],
)
def test_frame_too_large_is_raised_as_soon_as_it_is_certain(
    chunks: list[bytes], fails_at: int | None
) -> None:
    decoder = Decoder(SMALL_MAX)
    for index, chunk in enumerate(chunks):
        if index == fails_at:
            with pytest.raises(ProtocolError) as caught:
                decoder.feed(chunk)
            assert caught.value.code == ErrorCode.FRAME_TOO_LARGE
            assert caught.value.fatal
            assert caught.value.detail
            return
        decoder.feed(chunk)
    assert fails_at is None


def test_frame_too_large_at_the_default_limit_without_a_newline() -> None:
    decoder = Decoder()
    assert decoder.feed(b"x" * MAX_FRAME_BYTES) == []
    assert decoder.feed(b"\r") == []  # may still be the CR of a CRLF
    assert decoder.buffered == MAX_FRAME_BYTES + 1
    with pytest.raises(ProtocolError) as caught:
        decoder.feed(b"x")
    assert caught.value.code == ErrorCode.FRAME_TOO_LARGE
    assert caught.value.fatal


def test_frame_too_large_carries_the_good_messages_before_it() -> None:
    decoder = Decoder(SMALL_MAX)
    with pytest.raises(ProtocolError) as caught:
        decoder.feed(WHO + b'{"type":"who" }\n' + WHO)
    assert caught.value.code == ErrorCode.FRAME_TOO_LARGE
    assert caught.value.messages == [Who()]


def test_decoder_stays_broken_after_a_fatal_error() -> None:
    decoder = Decoder(SMALL_MAX)
    with pytest.raises(ProtocolError) as first:
        decoder.feed(WHO + b"x" * 100)
    assert first.value.messages == [Who()]
    assert decoder.buffered == 0  # the oversized bytes are not kept
    for chunk in (b"", WHO, b"\n", b"x" * 100):
        with pytest.raises(ProtocolError) as again:
            decoder.feed(chunk)
        assert again.value.code == ErrorCode.FRAME_TOO_LARGE
        assert again.value.fatal
        assert again.value.messages == []  # nothing is delivered twice
        assert decoder.buffered == 0


def test_max_frame_bytes_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        Decoder(0)


# -- buffered ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("chunks", "buffered"),
    [
        pytest.param([b""], [0], id="nothing"),
        pytest.param([b'{"ty'], [4], id="partial"),
        pytest.param([b'{"ty', b'pe":"who"}'], [4, 14], id="partial grows"),
        pytest.param([WHO], [0], id="complete"),
        pytest.param([WHO + b'{"t'], [3], id="complete then partial"),
        pytest.param([b'{"type":"who"}\r'], [15], id="pending CR"),
        pytest.param([b'{"type":"who"}\r', b"\n"], [15, 0], id="CR then LF"),
        pytest.param([b"\n\n  "], [2], id="blank lines then spaces"),
    ],
)
def test_buffered_counts_undecoded_bytes(chunks: list[bytes], buffered: list[int]) -> None:
    decoder = Decoder()
    observed = []
    for chunk in chunks:
        decoder.feed(chunk)
        observed.append(decoder.buffered)
    assert observed == buffered


# -- max_text_bytes ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "code"),
    [
        pytest.param("abcde", None, id="5 ascii"),
        pytest.param("abcdef", "text_too_long", id="6 ascii"),
        pytest.param("éé", None, id="4 bytes in 2 chars"),
        pytest.param("ééa", None, id="5 bytes in 3 chars"),
        pytest.param("ééé", "text_too_long", id="6 bytes in 3 chars"),
        pytest.param("😀", None, id="one 4-byte char"),
        pytest.param("😀ab", "text_too_long", id="6 bytes in 3 chars, emoji"),
    ],
)
def test_max_text_bytes_is_honoured(text: str, code: str | None) -> None:
    decoder = Decoder(max_text_bytes=5)
    frame = encode(Say(text=text))
    if code is None:
        assert decoder.feed(frame) == [Say(text=text)]
    else:
        with pytest.raises(ProtocolError) as caught:
            decoder.feed(frame)
        assert caught.value.code == code
        assert not caught.value.fatal


def test_max_text_bytes_can_be_raised_above_the_default() -> None:
    text = "a" * 5000
    assert Decoder(max_text_bytes=5000).feed(encode(Say(text=text))) == [Say(text=text)]
    with pytest.raises(ProtocolError) as caught:
        Decoder().feed(encode(Say(text=text)))
    assert caught.value.code == ErrorCode.TEXT_TOO_LONG


def test_max_text_bytes_applies_to_say_only() -> None:
    decoder = Decoder(max_text_bytes=5)
    message = Message(id=1, ts=2, sender="bob", text="longer than five")
    assert decoder.feed(encode(message)) == [message]


# -- duplicate keys ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "frame",
    [
        pytest.param(b'{"type":"say","text":"text"}\n', id="field name as a value"),
        pytest.param(b'{"type":"say","text":"type"}\n', id="type as a value"),
        pytest.param(b'{"type":"say","text":"hi","x":1,"x":2}\n', id="duplicated unknown key"),
        pytest.param(
            b'{"type":"say","text":"text","x":{"a":1,"a":2}}\n',
            id="nested duplicate while the screen is triggered",
        ),
        pytest.param(
            b'{"type":"say","text":"hi","x":{"text":1,"text":2}}\n',
            id="field name duplicated in a nested object",
        ),
        pytest.param(
            b'{"type":"say","text":"text","n":' + b"1" * 5000 + b"}\n",
            id="huge integer while the screen is triggered",
        ),
        pytest.param(b'{"type":"say","te\\u0078t":"hi"}\n', id="escaped key once"),
    ],
)
def test_frames_without_duplicated_fields_are_accepted(frame: bytes) -> None:
    (message,) = Decoder().feed(frame)
    assert isinstance(message, Say)


@pytest.mark.parametrize(
    "frame",
    [
        pytest.param(b'{"type":"say","text":"a","text":"b"}\n', id="plain"),
        pytest.param(b'{"type":"say","text":"a","te\\u0078t":"b"}\n', id="escaped"),
        pytest.param(b'{"type":"say","\\u0074ext":"a","text":"b"}\n', id="escaped first"),
        pytest.param(b'{"type":"say","type":"say","text":"a"}\n', id="type"),
        pytest.param(
            b'{"type":"say","text":"a","n":' + b"1" * 5000 + b',"text":"b"}\n',
            id="with a huge integer",
        ),
    ],
)
def test_duplicated_fields_are_bad_json(frame: bytes) -> None:
    with pytest.raises(ProtocolError) as caught:
        Decoder().feed(frame)
    assert caught.value.code == ErrorCode.BAD_JSON


# -- pull-style decoding -----------------------------------------------------------------------


def test_next_message_pulls_one_at_a_time_and_leaves_the_rest() -> None:
    decoder = Decoder()
    decoder.receive_data(WHO + b"\n" + SAY_HI + PING[:4])
    assert decoder.complete_frames() == 3  # the blank line counts
    assert decoder.next_message() == Who()
    assert decoder.next_message() == Say(text="hi")
    assert decoder.next_message() is None
    assert decoder.buffered == 4
    decoder.receive_data(PING[4:])
    assert decoder.next_message() == Ping(token="t")
    assert decoder.next_message() is None
    assert decoder.buffered == 0


# -- encode ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "frame"),
    [
        (Hello(name="alice"), b'{"type":"hello","name":"alice","version":1}\n'),
        (Say(text="hi"), b'{"type":"say","text":"hi"}\n'),
        (Say(text="hi", action=False, client_id=None), b'{"type":"say","text":"hi"}\n'),
        (Say(text="hi", action=True), b'{"type":"say","text":"hi","action":true}\n'),
        (Say(text="hi", client_id="c"), b'{"type":"say","text":"hi","client_id":"c"}\n'),
        (
            Message(id=1, ts=2, sender="b", text='"\\\t\x1b\u2028'),
            b'{"type":"message","id":1,"ts":2,"sender":"b","text":"\\"\\\\\\t\\u001b\xe2\x80\xa8"}\n',
        ),
        (Say(text="café 😀"), '{"type":"say","text":"café 😀"}\n'.encode()),
        (Who(), b'{"type":"who"}\n'),
        (
            Welcome(name="a", users=["a", "b"], version=1),
            b'{"type":"welcome","name":"a","users":["a","b"],"version":1}\n',
        ),
        (
            Welcome(name="a", users=[], version=1, server="s", max_text_bytes=1, max_frame_bytes=2),
            b'{"type":"welcome","name":"a","users":[],"version":1,"server":"s",'
            b'"max_text_bytes":1,"max_frame_bytes":2}\n',
        ),
        (
            Message(id=1, ts=2, sender="b", text="t"),
            b'{"type":"message","id":1,"ts":2,"sender":"b","text":"t"}\n',
        ),
        (Ack(id=1, ts=2), b'{"type":"ack","id":1,"ts":2}\n'),
        (Joined(name="c", ts=3), b'{"type":"joined","name":"c","ts":3}\n'),
        (
            Left(name="c", reason=LeaveReason.FLOOD, ts=3),
            b'{"type":"left","name":"c","reason":"flood","ts":3}\n',
        ),
        (Users(users=["a"]), b'{"type":"users","users":["a"]}\n'),
        (Error(code="flood"), b'{"type":"error","code":"flood"}\n'),
        (
            Error(code="flood", detail="slow down", fatal=True),
            b'{"type":"error","code":"flood","detail":"slow down","fatal":true}\n',
        ),
        (Ping(), b'{"type":"ping"}\n'),
        (Pong(token="x"), b'{"type":"pong","token":"x"}\n'),
        (Bye(), b'{"type":"bye"}\n'),
        (Bye(reason=LeaveReason.SHUTDOWN), b'{"type":"bye","reason":"shutdown"}\n'),
    ],
    ids=repr,
)
def test_encode_emits_compact_json_with_defaults_omitted(message: AnyMessage, frame: bytes) -> None:
    encoded = encode(message)
    assert encoded == frame
    assert encoded.count(b"\n") == 1
    assert json.loads(encoded)["type"] == type(message).__struct_config__.tag
    assert Decoder().feed(encoded) == [message]


def test_encode_never_emits_whitespace_between_tokens() -> None:
    message = Welcome(
        name="a", users=["a", "b", "c"], version=1, server="x", max_text_bytes=9, max_frame_bytes=99
    )
    encoded = encode(message)
    assert encoded == json.dumps(json.loads(encoded), separators=(",", ":")).encode() + b"\n"


@pytest.mark.parametrize(
    "types", [ClientMessage, ServerMessage], ids=["ClientMessage", "ServerMessage"]
)
def test_decoder_types_restrict_what_is_accepted(types: object) -> None:
    decoder = Decoder(types=types)
    hello = encode(Hello(name="alice"))
    welcome = encode(Welcome(name="alice", users=["alice"], version=1))
    accepted, refused = (hello, welcome) if types is ClientMessage else (welcome, hello)
    assert len(decoder.feed(accepted)) == 1
    with pytest.raises(ProtocolError) as caught:
        decoder.feed(refused)
    assert caught.value.code == ErrorCode.UNKNOWN_TYPE
    assert "accepts" in caught.value.detail
    # Both sides accept the shared messages.
    assert decoder.feed(encode(Ping(token="p")) + encode(Bye())) == [Ping(token="p"), Bye()]


def test_encode_does_not_check_content_but_the_receiver_does() -> None:
    frame = encode(Say(text="\x1b[2J"))
    assert frame == b'{"type":"say","text":"\\u001b[2J"}\n'
    with pytest.raises(ProtocolError) as caught:
        Decoder().feed(frame)
    assert caught.value.code == ErrorCode.INVALID_TEXT


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    "body",
    [
        b'"' + b'\\"' * 500_000,  # one string never closed, full of escaped quotes
        b'"\\' * 500_000,  # quotes each opening a string that never closes
        b'"a' * 500_000,
    ],
    ids=["escaped quotes", "quote-backslash", "quote-letter"],
)
def test_nesting_check_is_linear_on_unterminated_strings(body: bytes) -> None:
    # 33 brackets force the exact depth check; a quadratic scan of these 1 MB frames would run
    # for hours, a linear one takes milliseconds, so the timeout cannot be a flaky bound.
    decoder = Decoder(max_frame_bytes=2_000_000)
    with pytest.raises(ProtocolError) as caught:
        decoder.feed(b"{" * 33 + body + b"\n")
    assert caught.value.code in (ErrorCode.BAD_JSON, ErrorCode.BAD_UTF8)
