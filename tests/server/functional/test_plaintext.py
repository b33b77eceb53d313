"""The plain-text protocol behaves like the lab server, over real sockets.

The lab client sends its name with no newline, then lines; it prints whatever arrives. So the
server must take an unterminated first chunk as the name, greet with a line that mentions 'bye',
relay ``NAME: TEXT`` to everyone else (never back to the sender), and announce arrivals and
departures the way the lab server did, without any of its colour codes.
"""

from __future__ import annotations

import time
import unicodedata
from typing import Any

import pytest

from tests.support.net import NativeClient, PlainClient, run_lab_transcript, running_server
from wirechat_common import (
    Ack,
    Error,
    ErrorCode,
    History,
    Join,
    LeaveReason,
    Left,
    Message,
    Part,
    Say,
    encode,
)
from wirechat_server.server import ChatServer

# C0 controls a plain reader must never receive (tab and the line feed are allowed).
FORBIDDEN_BYTES = frozenset([*range(0x09), *range(0x0B, 0x20), 0x7F])


def assert_clean(data: bytes) -> None:
    """``data`` is UTF-8 with no C0 control but tab and newline, no DEL and no C1 control."""
    bad = sorted({byte for byte in data if byte in FORBIDDEN_BYTES})
    assert not bad, f"control bytes {bad} reached a plain-text reader: {data!r}"
    text = data.decode("utf-8")  # also proves the server sent valid UTF-8
    c1 = [char for char in text if 0x80 <= ord(char) <= 0x9F]
    assert not c1, f"C1 controls {c1!r} reached a plain-text reader"
    bidi = [char for char in text if unicodedata.bidirectional(char) in ("RLO", "LRO", "RLE")]
    assert not bidi, f"bidi overrides {bidi!r} reached a plain-text reader"


async def test_name_without_newline_is_taken_after_plain_name_wait() -> None:
    async with running_server(plain_name_wait=0.6) as server:
        started = time.monotonic()
        ryuka = await PlainClient.connect(server, "Ryuka", newline=False)
        waited_without_newline = time.monotonic() - started

        started = time.monotonic()
        ash = await PlainClient.connect(server, "Ash", newline=True)
        waited_with_newline = time.monotonic() - started

        # The unterminated name waited for plain_name_wait; a terminated one is taken at once.
        assert waited_without_newline >= 0.55
        assert waited_with_newline < 0.5
        assert await ryuka.recv_line() == "Ash joined the conversation"
        await ash.send_line("/who")
        assert await ash.recv_line() == "2 here: Ash, Ryuka"
        await ryuka.close()
        await ash.close()


@pytest.mark.parametrize("newline", [False, True], ids=["no-newline", "newline"])
async def test_welcome_line_mentions_welcome_and_bye(newline: bool) -> None:
    async with running_server(plain_name_wait=0.1) as server:
        client = await PlainClient.connect(server)
        await client.send_raw(b"Ryuka" + (b"\n" if newline else b""))
        welcome = await client.recv_line()
        assert "Welcome" in welcome
        assert "Ryuka" in welcome
        assert "'bye'" in welcome
        assert server.core.users() == ["Ryuka"]
        await client.close()


async def test_lines_go_to_everyone_else_and_are_not_echoed() -> None:
    async with running_server() as server:
        ryuka = await PlainClient.connect(server, "Ryuka")
        ash = await PlainClient.connect(server, "Ash")
        misty = await PlainClient.connect(server, "Misty")
        assert await ryuka.recv_line() == "Ash joined the conversation"
        assert await ryuka.recv_line() == "Misty joined the conversation"
        assert await ash.recv_line() == "Misty joined the conversation"

        await ash.send_line("Hey there")
        assert await ryuka.recv_line() == "Ash: Hey there"
        assert await misty.recv_line() == "Ash: Hey there"
        # Had the line been echoed, it would come before the answer to /who.
        await ash.send_line("/who")
        assert await ash.recv_line() == "3 here: Ash, Misty, Ryuka"

        await ryuka.send_line("How is pikachu doing, did it evolve")
        assert await ash.recv_line() == "Ryuka: How is pikachu doing, did it evolve"
        assert await misty.recv_line() == "Ryuka: How is pikachu doing, did it evolve"
        for client in (ryuka, ash, misty):
            await client.close()


@pytest.mark.parametrize("command", ["bye", "/quit", "BYE"])
async def test_bye_leaves_the_conversation(command: str) -> None:
    async with running_server() as server:
        ryuka = await PlainClient.connect(server, "Ryuka")
        native = await NativeClient.connect(server, "Brock")
        ash = await PlainClient.connect(server, "Ash")
        await ash.send_line(command)
        assert await ash.expect_closed() == ["Goodbye!"]
        assert await ryuka.expect_line(lambda line: "Ash" in line and "left" in line) == (
            "Ash left the conversation"
        )
        left = await native.expect(Left)
        assert (left.name, left.reason) == ("Ash", LeaveReason.QUIT)
        assert server.core.users() == ["Brock", "Ryuka"]
        await ryuka.close()
        await native.close()


@pytest.mark.parametrize("how", ["fin", "rst"])
async def test_abrupt_drop_is_announced_as_unexpected(how: str) -> None:
    async with running_server() as server:
        ryuka = await PlainClient.connect(server, "Ryuka")
        brock = await NativeClient.connect(server, "Brock")
        ash = await PlainClient.connect(server, "Ash")
        assert await ryuka.expect_line("Ash joined the conversation")
        await ash.send_line("half a conversation")
        assert await ryuka.recv_line() == "Ash: half a conversation"

        if how == "rst":
            ash.abort()
        else:
            await ash.close()  # no bye: the lab client killed with Ctrl-C

        assert await ryuka.recv_line() == "Ash left the conversation unexpectedly"
        left = await brock.expect(Left)
        assert (left.name, left.reason) == ("Ash", LeaveReason.DROPPED)
        await ryuka.close()
        await brock.close()


@pytest.mark.parametrize("name", ["Ash", "ash", "ASH"])
async def test_duplicate_name_is_refused_like_the_lab(name: str) -> None:
    async with running_server(plain_name_wait=0.1) as server:
        ash = await PlainClient.connect(server, "Ash")
        impostor = await PlainClient.connect(server)
        await impostor.send_raw(name.encode())  # the lab client: no newline
        assert await impostor.expect_closed() == ["Username already taken!"]
        # Nobody heard of the impostor, and the original is still there.
        await ash.send_line("/who")
        assert await ash.recv_line() == "1 here: Ash"
        await ash.close()


async def test_who_me_and_empty_lines() -> None:
    async with running_server() as server:
        ryuka = await PlainClient.connect(server, "Ryuka")
        ash = await PlainClient.connect(server, "Ash")
        assert await ryuka.recv_line() == "Ash joined the conversation"

        await ryuka.send_line("/who")
        assert await ryuka.recv_line() == "2 here: Ash, Ryuka"
        await ryuka.send_line("/me waves")
        assert await ash.recv_line() == "* Ryuka waves"
        # Empty and blank lines say nothing; the next real line is the next thing seen.
        await ryuka.send_raw(b"\n\r\n   \n\t\n")
        await ryuka.send_line("after the blanks")
        assert await ash.recv_line() == "Ryuka: after the blanks"
        await ryuka.send_line("/who")
        assert await ryuka.recv_line() == "2 here: Ash, Ryuka"
        await ryuka.close()
        await ash.close()


# Text a native sender may try to smuggle to plain-text readers (A8, A9): as JSON escapes,
# which msgspec decodes without complaint, and as raw UTF-8 where JSON allows it.
ESCAPED_SAYS = [
    rb'{"type":"say","text":"\u001b]0;pwned\u0007"}',
    rb'{"type":"say","text":"\u001b[2J\u001b[31mred"}',
    rb'{"type":"say","text":"nul\u0000byte"}',
    rb'{"type":"say","text":"\u009b[2J"}',
    rb'{"type":"say","text":"del\u007f"}',
    rb'{"type":"say","text":"hi\r\nmallory: hi"}',
    rb'{"type":"say","text":"hi\rmallory: hi"}',
    rb'{"type":"say","text":"hi\nmallory: hi"}',
    rb'{"type":"say","text":"line\u2028break"}',
    rb'{"type":"say","text":"b\u202eob"}',
    rb'{"type":"say","text":"bell\u0007"}',
    '{"type":"say","text":"raw c1 \u009b[2J"}'.encode(),
    '{"type":"say","text":"raw rlo \u202egnp.exe"}'.encode(),
]


async def test_no_control_character_reaches_a_plain_reader() -> None:
    async with running_server(msg_rate=0) as server:  # many requests: no rate limit here
        reader = await PlainClient.connect(server, "reader")
        mallory = await NativeClient.connect(server, "mallory")
        plain_mallory = await PlainClient.connect(server, "pmallory")

        for frame in ESCAPED_SAYS:
            await mallory.send_raw(frame + b"\n")
            error = await mallory.expect(Error)
            assert error.code == ErrorCode.INVALID_TEXT, frame
            assert not error.fatal
            await mallory.sync()  # a good request between refusals: never 10 errors in a row
        # Encoded by the real codec too (msgspec escapes C0 controls on the way out).
        await mallory.send(Say(text="\x1b]8;;http://evil\x07link\x1b]8;;\x07"))
        assert (await mallory.expect(Error)).code == ErrorCode.INVALID_TEXT

        for line in [
            b"esc \x1b[31mred\n",
            b"c1 \xc2\x9b[2J\n",
            b"carriage\rreturn\n",
            b"nul\x00\n",
            b"del\x7f\n",
            b"rlo \xe2\x80\xae\n",
        ]:
            await plain_mallory.send_raw(line)
            refusal = await plain_mallory.recv_raw_line()
            assert b"(invalid_text)" in refusal, line
            assert_clean(refusal)

        received = b""
        await mallory.send(Say(text="done"))
        while not received.endswith(b"mallory: done\n"):
            received += await reader.recv_raw_line()
        await plain_mallory.send_line("done too")
        while not received.endswith(b"pmallory: done too\n"):
            received += await reader.recv_raw_line()
        assert_clean(received)
        assert received.decode().splitlines() == [
            "mallory joined the conversation",
            "pmallory joined the conversation",
            "mallory: done",
            "pmallory: done too",
        ]
        for client in (reader, plain_mallory, mallory):
            await client.close()


async def test_tab_and_unicode_text_reach_plain_readers_intact() -> None:
    async with running_server() as server:
        reader = await PlainClient.connect(server, "reader")
        sender = await NativeClient.connect(server, "sender")
        text = "tab\there, café, 日本語, emoji 👩‍💻 (with a zero-width joiner)"
        await sender.send(Say(text=text))
        assert await reader.expect_line(lambda line: line.startswith("sender:")) == (
            f"sender: {text}"
        )
        await reader.close()
        await sender.close()


async def test_invalid_utf8_line_gets_bad_utf8_and_the_connection_survives() -> None:
    async with running_server() as server:
        writer = await PlainClient.connect(server, "writer")
        reader = await PlainClient.connect(server, "reader")
        native = await NativeClient.connect(server, "native")
        assert await writer.recv_line() == "reader joined the conversation"
        assert await writer.recv_line() == "native joined the conversation"
        await writer.send_raw(b"caf\xe9 au lait\n")  # Latin-1, not UTF-8
        refusal = await writer.recv_line()
        assert refusal.startswith("error: ")
        assert refusal.endswith("(bad_utf8)")
        await writer.send_raw(b"\xc0\xaf overlong\n")
        assert (await writer.recv_line()).endswith("(bad_utf8)")
        # Still connected and registered; nothing of the bad lines was relayed.
        await writer.send_line("still here")
        assert await reader.expect_line(lambda line: line.startswith("writer")) == (
            "writer: still here"
        )
        message = await native.expect(Message)
        assert (message.sender, message.text) == ("writer", "still here")

        # The same for a native frame (A11): bad_utf8, not fatal, nothing relayed.
        await native.send_raw(b'{"type":"say","text":"\xff\xfe"}\n')
        error = await native.expect(Error)
        assert (error.code, error.fatal) == (ErrorCode.BAD_UTF8, False)
        await native.send(Say(text="native still here"))
        assert await reader.recv_line() == "native: native still here"
        for client in (writer, reader, native):
            await client.close()


async def test_plain_text_too_long_is_refused_not_cut() -> None:
    async with running_server(max_text_bytes=100, max_line_bytes=200) as server:
        writer = await PlainClient.connect(server, "writer")
        reader = await PlainClient.connect(server, "reader")
        await writer.send_line("x" * 100)
        assert await reader.recv_line() == "writer: " + "x" * 100
        assert await writer.recv_line() == "reader joined the conversation"
        await writer.send_line("y" * 101)
        assert (await writer.recv_line()).endswith("(text_too_long)")
        await writer.send_line("short")
        assert await reader.recv_line() == "writer: short"
        await writer.close()
        await reader.close()


async def test_native_frame_encoding_is_never_seen_by_plain_readers() -> None:
    """A plain reader sees lines, never JSON, acks, pings or pongs."""
    async with running_server() as server:
        reader = await PlainClient.connect(server, "reader")
        sender = await NativeClient.connect(server, "sender")
        await sender.send_raw(encode(Say(text="one", client_id="c1")))
        await sender.sync()
        await sender.send(Say(text="two"))
        assert await reader.recv_line() == "sender joined the conversation"
        assert await reader.recv_line() == "sender: one"
        assert await reader.recv_line() == "sender: two"
        await reader.close()
        await sender.close()


async def test_name_and_first_lines_in_one_packet() -> None:
    async with running_server() as server:
        ash = await PlainClient.connect(server, "Ash")
        ryuka = await PlainClient.connect(server)
        await ryuka.send_raw(b"Ryuka\r\nHello\r\nHow is pikachu doing\n")
        assert "Welcome" in await ryuka.recv_line()
        assert await ash.recv_line() == "Ryuka joined the conversation"
        assert await ash.recv_line() == "Ryuka: Hello"
        assert await ash.recv_line() == "Ryuka: How is pikachu doing"
        await ash.close()
        await ryuka.close()


async def test_welcome_line_names_at_most_twenty_users() -> None:
    async with running_server() as server:
        others = [await NativeClient.connect(server, f"user{n:02}") for n in range(24)]
        client = await PlainClient.connect(server)
        await client.send_line("zed")
        welcome = await client.recv_line()
        assert welcome.startswith("Welcome to the chat, zed! 25 here: user00, user01, ")
        assert "user19 and 5 more." in welcome
        assert "user20" not in welcome
        await client.send_line("/who")
        assert (await client.recv_line()).endswith("user19 and 5 more")
        for other in others:
            await other.close()
        await client.close()


async def test_blank_lines_before_the_name_are_not_taken_as_a_name(server: ChatServer) -> None:
    # A telnet user who presses Enter before typing a name is waited for, not disconnected.
    client = await PlainClient.connect(server)
    await client.send_raw(b"\r\n\n   \r\n")
    await client.send_raw(b"alice\r\n")
    welcome = await client.recv_line()
    # Alone on the server, the welcome still reads as sentences.
    assert welcome.startswith("Welcome to the chat, alice! You are the only one here. Type a line")
    await client.close()


# -- rooms, direct messages and history, as a plain-text user sees them -----------------------


async def say_and_wait(client: NativeClient, *says: Say) -> None:
    """Send each of ``says`` and wait for its ack: stored, relayed, in history from now on."""
    for number, say in enumerate(says):
        client_id = f"seed-{number}"
        await client.send(
            Say(text=say.text, action=say.action, room=say.room, to=say.to, client_id=client_id)
        )
        ack = await client.expect(Ack)
        assert ack.client_id == client_id


@pytest.mark.parametrize("newline", [True, False], ids=["newline", "lab-client"])
async def test_a_plain_latecomer_gets_the_lobby_s_last_lines_after_the_welcome(
    newline: bool,
) -> None:
    async with running_server(plain_history_lines=3, plain_name_wait=0.1, msg_rate=0) as server:
        ash = await NativeClient.connect(server, "Ash")
        brock = await NativeClient.connect(server, "Brock")
        await ash.send(Join(room="#dev"))
        await ash.expect(History)
        await say_and_wait(
            ash,
            Say(text="one"),
            Say(text="two"),
            Say(text="not in the lobby", room="#dev"),
            Say(text="waves", action=True),
            Say(text="a secret", to="Brock"),
        )
        await say_and_wait(brock, Say(text="three"))

        misty = await PlainClient.connect(server)
        await misty.send_raw(b"Misty" + (b"\n" if newline else b""))
        assert (await misty.recv_line()).startswith("Welcome to the chat, Misty!")
        # Oldest first, lobby only (no other room, no direct message), as lines of text.
        assert [await misty.recv_line() for _ in range(3)] == [
            "Ash: two",
            "* Ash waves",
            "Brock: three",
        ]
        # Nothing more of the past: the next line is live.
        await ash.send(Say(text="live"))
        assert await misty.recv_line() == "Ash: live"
        for client in (ash, brock, misty):
            await client.close()


async def test_plain_history_lines_default_to_the_last_twenty() -> None:
    async with running_server(msg_rate=0) as server:
        ash = await NativeClient.connect(server, "Ash")
        await say_and_wait(ash, *(Say(text=f"line {n}") for n in range(25)))
        misty = await PlainClient.connect(server, "Misty")
        assert [await misty.recv_line() for _ in range(20)] == [
            f"Ash: line {n}" for n in range(5, 25)
        ]
        await ash.send(Say(text="live"))
        assert await misty.recv_line() == "Ash: live"
        await ash.close()
        await misty.close()


@pytest.mark.parametrize(
    "settings",
    [{"plain_history_lines": 0}, {"storage": "none"}],
    ids=["plain_history_lines=0", "storage=none"],
)
async def test_no_past_lines_when_plain_history_is_off_or_nothing_is_stored(
    settings: dict[str, Any],
) -> None:
    async with running_server(msg_rate=0, **settings) as server:
        ash = await NativeClient.connect(server, "Ash")
        await say_and_wait(ash, Say(text="one"), Say(text="two"))
        misty = await PlainClient.connect(server, "Misty")
        await ash.send(Say(text="live"))
        assert await misty.recv_line() == "Ash: live"
        await ash.close()
        await misty.close()


async def test_msg_sends_a_direct_message_both_ways() -> None:
    async with running_server() as server:
        ryuka = await PlainClient.connect(server, "Ryuka")
        ash = await NativeClient.connect(server, "Ash")
        witness = await PlainClient.connect(server, "Misty")
        assert await ryuka.recv_line() == "Ash joined the conversation"
        assert await ryuka.recv_line() == "Misty joined the conversation"

        await ryuka.send_line("/msg ash   hello there, just you")
        message = await ash.expect(Message)
        assert (message.sender, message.text) == ("Ryuka", "hello there, just you")
        assert (message.to, message.room, message.action) == ("Ash", None, False)

        await ash.send(Say(text="psst", to="ryuka"))
        assert await ryuka.recv_line() == "*Ash* psst"
        await ash.send(Say(text="for everyone"))
        assert await ryuka.recv_line() == "Ash: for everyone"
        # The witness saw neither direct message: the lobby line is the first it gets.
        assert await witness.recv_line() == "Ash: for everyone"
        for client in (ryuka, ash, witness):
            await client.close()


async def test_msg_to_nobody_or_without_text_is_an_error_line() -> None:
    async with running_server() as server:
        ryuka = await PlainClient.connect(server, "Ryuka")
        await ryuka.send_line("/msg nobody are you there")
        line = await ryuka.recv_line()
        assert line.startswith("error: ")
        assert line.endswith("(no_such_user)")
        assert "nobody" in line
        for incomplete in ("/msg Ryuka", "/msg", "/me", "/me   "):  # refused, nothing sent
            await ryuka.send_line(incomplete)
            line = await ryuka.recv_line()
            assert line.startswith("error: usage: /"), incomplete
            assert line.endswith("(bad_request)"), incomplete
        # To oneself: allowed (no error), and shown on one's other connections only.
        await ryuka.send_line("/msg Ryuka note to self")
        await ryuka.send_line("/who")
        assert await ryuka.recv_line() == "1 here: Ryuka"
        await ryuka.close()


async def test_rooms_lists_the_rooms_and_who_lists_the_lobby() -> None:
    async with running_server(rooms_page=2) as server:
        ryuka = await PlainClient.connect(server, "Ryuka")
        ash = await NativeClient.connect(server, "Ash")
        brock = await NativeClient.connect(server, "Brock")
        assert await ryuka.recv_line() == "Ash joined the conversation"
        assert await ryuka.recv_line() == "Brock joined the conversation"
        await ash.send(Join(room="#dev"))
        await ash.expect(History)
        await brock.send(Join(room="#Zoo"), Part(room="#lobby"))
        left = await brock.expect(Left)
        assert (left.room, left.reason) == ("#lobby", LeaveReason.PART)
        assert await ryuka.recv_line() == "Brock left the conversation"

        # Two a page: the line says how to see the next one.
        await ryuka.send_line("/rooms")
        assert await ryuka.recv_line() == "2 rooms (more: /rooms #lobby): #dev (1), #lobby (2)"
        await ryuka.send_line("/rooms #lobby")
        assert await ryuka.recv_line() == "1 room: #Zoo (1)"
        # /who is the lobby: Brock is connected but not in it.
        await ryuka.send_line("/who")
        assert await ryuka.recv_line() == "2 here: Ash, Ryuka"
        for client in (ryuka, ash, brock):
            await client.close()


@pytest.mark.parametrize("storage", ["sqlite", "none"])
async def test_the_lab_transcript_still_holds(storage: str) -> None:
    async with running_server(storage=storage) as server:
        _, ash = await run_lab_transcript(server)
        await ash.close()
