"""The native JSON protocol, request by request, over real sockets (A10, A11, G2)."""

from __future__ import annotations

import itertools

import pytest

from tests.support.net import NativeClient, PlainClient, running_server
from wirechat_common import (
    MAX_FRAME_BYTES,
    PROTOCOL_VERSION,
    Ack,
    Bye,
    Error,
    ErrorCode,
    Hello,
    Joined,
    LeaveReason,
    Left,
    Message,
    Ping,
    Pong,
    Say,
    Users,
    Welcome,
    Who,
)
from wirechat_server.core import now_ms
from wirechat_server.server import ChatServer


async def test_welcome_lists_users_sorted_and_the_server_limits() -> None:
    async with running_server(max_text_bytes=1000, max_frame_bytes=3000) as server:
        clients = [await NativeClient.connect(server, name) for name in ("carol", "Bob", "alice")]
        dave = await NativeClient.connect(server, "Dave")
        welcome = dave.welcome
        assert welcome is not None
        assert welcome.name == "Dave"
        assert welcome.users == ["alice", "Bob", "carol", "Dave"]
        assert welcome.version == PROTOCOL_VERSION
        assert (welcome.max_text_bytes, welcome.max_frame_bytes) == (1000, 3000)
        assert welcome.server.startswith("wirechat")
        joined = await clients[0].collect(Joined, 3)
        assert [event.name for event in joined] == ["Bob", "alice", "Dave"]
        for client in [*clients, dave]:
            await client.close()


async def test_say_is_relayed_with_increasing_ids_and_acked_to_the_sender(
    server: ChatServer,
) -> None:
    alice = await NativeClient.connect(server, "alice")
    bob = await NativeClient.connect(server, "bob")
    before = now_ms()
    await alice.send(*(Say(text=f"message {n}", client_id=f"c{n}") for n in range(5)))
    await alice.send(Say(text="waves", action=True))
    messages = await bob.collect(Message, 6)
    acks = await alice.collect(Ack, 6)
    after = now_ms()

    assert [m.text for m in messages] == [f"message {n}" for n in range(5)] + ["waves"]
    assert {m.sender for m in messages} == {"alice"}
    assert [m.action for m in messages] == [False] * 5 + [True]
    ids = [m.id for m in messages]
    assert all(a < b for a, b in itertools.pairwise(ids))
    timestamps = [m.ts for m in messages]
    assert timestamps == sorted(timestamps)
    assert before <= timestamps[0]
    assert timestamps[-1] <= after

    # Each ack carries the id and ts of the relayed message and echoes the client_id.
    assert [(a.id, a.ts) for a in acks] == [(m.id, m.ts) for m in messages]
    assert [a.client_id for a in acks] == [f"c{n}" for n in range(5)] + [None]
    # The sender never receives its own message back.
    await alice.sync()
    assert not [m for m in alice.inbox if isinstance(m, Message)]

    await bob.send(Say(text="reply"))
    reply = await alice.expect(Message)
    assert (reply.sender, reply.text) == ("bob", "reply")
    assert reply.id > ids[-1]
    await alice.close()
    await bob.close()


async def test_spoofed_sender_id_and_ts_are_ignored(server: ChatServer) -> None:
    """G2: the server sets sender, id and time from the session, whatever the frame says."""
    alice = await NativeClient.connect(server, "alice")
    bob = await NativeClient.connect(server, "bob")
    await alice.send(Say(text="first"))
    first = await bob.expect(Message)
    await alice.send_raw(
        b'{"type":"say","text":"spoof","sender":"bob","from":"bob","name":"bob",'
        b'"id":999999,"ts":1,"client_id":"x"}\n'
    )
    message = await bob.expect(Message)
    assert message.text == "spoof"
    assert message.sender == "alice"
    assert message.id == first.id + 1
    assert message.ts >= first.ts
    assert message.ts > 1_600_000_000_000
    ack = (await alice.collect(Ack, 2))[-1]
    assert (ack.id, ack.client_id) == (message.id, "x")
    await alice.close()
    await bob.close()


async def test_who_lists_everyone_sorted(server: ChatServer) -> None:
    zed = await NativeClient.connect(server, "zed")
    amy = await PlainClient.connect(server, "Amy")
    bea = await NativeClient.connect(server, "bea")
    await zed.send(Who())
    assert (await zed.expect(Users)).users == ["Amy", "bea", "zed"]
    for client in (zed, amy, bea):
        await client.close()


@pytest.mark.parametrize("token", ["tok-1", None])
async def test_ping_is_answered_with_the_same_token(server: ChatServer, token: str | None) -> None:
    alice = await NativeClient.connect(server, "alice")
    await alice.send(Ping(token=token))
    assert await alice.recv() == Pong(token=token)
    await alice.close()


async def test_ping_before_hello_is_answered(server: ChatServer) -> None:
    client = await NativeClient.connect(server)
    await client.send(Ping(token="early"))
    assert await client.recv() == Pong(token="early")
    await client.close()


async def test_bye_is_answered_then_closed_and_announced(server: ChatServer) -> None:
    alice = await NativeClient.connect(server, "alice")
    bob = await NativeClient.connect(server, "bob")
    await alice.send(Bye())
    seen = await alice.expect_closed()
    assert [type(message) for message in seen] == [Joined, Bye]
    assert seen[-1] == Bye(reason=LeaveReason.QUIT)
    left = await bob.expect(Left)
    assert (left.name, left.reason) == ("alice", LeaveReason.QUIT)
    await bob.sync()
    assert server.core.users() == ["bob"]
    await bob.close()


@pytest.mark.parametrize("request_frame", [Say(text="too early"), Who()], ids=["say", "who"])
async def test_requests_before_hello_are_not_registered(
    server: ChatServer, request_frame: Say | Who
) -> None:
    watcher = await NativeClient.connect(server, "watcher")
    client = await NativeClient.connect(server)
    await client.send(request_frame)
    error = await client.expect(Error)
    assert (error.code, error.fatal) == (ErrorCode.NOT_REGISTERED, False)
    # Nothing was relayed, and a hello still works.
    await client.send(Hello(name="late"))
    assert (await client.expect(Welcome)).users == ["late", "watcher"]
    assert (await watcher.expect(Joined)).name == "late"
    await client.close()
    await watcher.close()


@pytest.mark.parametrize("name", ["alice", "other"])
async def test_second_hello_is_already_registered(server: ChatServer, name: str) -> None:
    alice = await NativeClient.connect(server, "alice")
    await alice.send(Hello(name=name))
    error = await alice.expect(Error)
    assert (error.code, error.fatal) == (ErrorCode.ALREADY_REGISTERED, False)
    await alice.send(Who())
    assert (await alice.expect(Users)).users == ["alice"]
    await alice.close()


async def test_unsupported_version_is_refused_and_closed(server: ChatServer) -> None:
    client = await NativeClient.connect(server)
    await client.send(Hello(name="future", version=PROTOCOL_VERSION + 1))
    seen = await client.expect_closed()
    assert len(seen) == 1
    error = seen[0]
    assert isinstance(error, Error)
    assert (error.code, error.fatal) == (ErrorCode.UNSUPPORTED_VERSION, True)
    assert not server.core.is_taken("future")


BAD_FRAMES = [
    pytest.param(b'{"type":"shout","text":"hi"}', ErrorCode.UNKNOWN_TYPE, id="unknown-type"),
    pytest.param(b'{"type":"welcome","name":"x","users":[]}', ErrorCode.UNKNOWN_TYPE, id="s2c"),
    pytest.param(b'{"text":"no type"}', ErrorCode.INVALID_FIELD, id="no-type"),
    pytest.param(b'{"type":"say","text":5}', ErrorCode.INVALID_FIELD, id="wrong-type"),
    pytest.param(b'{"type":"say"}', ErrorCode.INVALID_FIELD, id="missing-field"),
    pytest.param(b'{"type":"say","text":"a","action":"yes"}', ErrorCode.INVALID_FIELD, id="bool"),
    pytest.param(b'{"type":"say","text":"a","text":"b"}', ErrorCode.BAD_JSON, id="duplicate-key"),
    pytest.param(
        b'{"type":"say","text":"a","\\u0074ext":"b"}', ErrorCode.BAD_JSON, id="dup-escaped"
    ),
    pytest.param(b'{"type":"say","text":"a"', ErrorCode.BAD_JSON, id="truncated"),
    pytest.param(b"{not json at all}", ErrorCode.BAD_JSON, id="not-json"),
    pytest.param(b'{"type":"say","text":"a"} trailing', ErrorCode.BAD_JSON, id="trailing"),
    pytest.param(
        b'{"type":"say","x":' + b"[" * 1000 + b"]" * 1000 + b',"text":"a"}',
        ErrorCode.BAD_JSON,
        id="deep-nesting",
    ),
    pytest.param(b'{"type":"say","text":"\xc0\xaf"}', ErrorCode.BAD_UTF8, id="bad-utf8"),
    pytest.param(b'{"type":"say","text":""}', ErrorCode.INVALID_TEXT, id="empty-text"),
    pytest.param(b'{"type":"say","text":"\\u001b[2J"}', ErrorCode.INVALID_TEXT, id="escape"),
]


@pytest.mark.parametrize(("frame", "code"), BAD_FRAMES)
async def test_bad_frame_is_refused_and_the_connection_survives(
    server: ChatServer, frame: bytes, code: ErrorCode
) -> None:
    """A10: the right code, not fatal, nothing relayed, and the next request is served."""
    alice = await NativeClient.connect(server, "alice")
    bob = await NativeClient.connect(server, "bob")
    await alice.send_raw(frame + b"\n")
    error = await alice.expect(Error)
    assert (error.code, error.fatal) == (code, False)
    assert "Traceback" not in error.detail
    assert ".py" not in error.detail
    await alice.send(Say(text="after"))
    message = await bob.expect(Message)
    assert (message.sender, message.text) == ("alice", "after")
    assert isinstance(await alice.recv(), Ack)
    await alice.close()
    await bob.close()


async def test_consecutive_errors_past_the_limit_cut_the_connection() -> None:
    async with running_server(max_consecutive_errors=10, msg_rate=0) as server:
        bob = await NativeClient.connect(server, "bob")
        alice = await NativeClient.connect(server, "alice")
        bad = b'{"type":"nonsense"}\n'
        # Nine in a row, a good request, nine more: never ten in a row, still connected.
        await alice.send_raw(bad * 9 + b'{"type":"ping","token":"p"}\n' + bad * 9)
        replies = [await alice.recv() for _ in range(19)]
        assert [type(reply) for reply in replies] == [Error] * 9 + [Pong] + [Error] * 9
        assert all(not reply.fatal for reply in replies if isinstance(reply, Error))
        # The tenth in a row is one too many.
        await alice.send_raw(bad)
        seen = await alice.expect_closed()
        assert [m.code for m in seen if isinstance(m, Error)] == [
            ErrorCode.UNKNOWN_TYPE,
            ErrorCode.PROTOCOL_VIOLATION,
        ]
        last = seen[-1]
        assert isinstance(last, Error)
        assert last.fatal
        left = await bob.expect(Left)
        assert (left.name, left.reason) == ("alice", LeaveReason.KICKED)
        await bob.close()


async def test_consecutive_error_limit_is_the_setting() -> None:
    async with running_server(max_consecutive_errors=3) as server:
        alice = await NativeClient.connect(server, "alice")
        await alice.send_raw(b"{}\n" * 3)
        seen = await alice.expect_closed()
        codes = [m.code for m in seen if isinstance(m, Error)]
        assert codes == [ErrorCode.INVALID_FIELD] * 3 + [ErrorCode.PROTOCOL_VIOLATION]


async def test_native_and_plain_users_see_each_other(server: ChatServer) -> None:
    ryuka = await PlainClient.connect(server, "Ryuka")
    ash = await NativeClient.connect(server, "Ash")
    assert ash.welcome is not None
    assert ash.welcome.users == ["Ash", "Ryuka"]
    assert await ryuka.recv_line() == "Ash joined the conversation"
    misty = await PlainClient.connect(server, "Misty")
    assert (await ash.expect(Joined)).name == "Misty"
    assert await ryuka.recv_line() == "Misty joined the conversation"

    await ash.send(Say(text="Hey there"))
    assert await ryuka.recv_line() == "Ash: Hey there"
    assert await misty.recv_line() == "Ash: Hey there"
    await ryuka.send_line("Hello")
    message = await ash.expect(Message)
    assert (message.sender, message.text, message.action) == ("Ryuka", "Hello", False)
    assert await misty.recv_line() == "Ryuka: Hello"
    await misty.send_line("/me waves")
    action = await ash.expect(Message)
    assert (action.sender, action.text, action.action) == ("Misty", "waves", True)
    await ash.send(Say(text="bows", action=True))
    assert await ryuka.expect_line(lambda line: line.startswith("* Ash")) == "* Ash bows"
    await ash.send(Who())
    assert (await ash.expect(Users)).users == ["Ash", "Misty", "Ryuka"]
    await ryuka.send_line("bye")
    left = await ash.expect(Left)
    assert (left.name, left.reason) == ("Ryuka", LeaveReason.QUIT)
    await ash.close()
    assert await misty.expect_line(lambda line: line.startswith("Ash left")) == (
        "Ash left the conversation unexpectedly"
    )
    await misty.close()


async def test_frame_limit_announced_in_welcome_defaults() -> None:
    async with running_server() as server:
        client = await NativeClient.connect(server, "alice")
        assert client.welcome is not None
        assert client.welcome.max_frame_bytes == MAX_FRAME_BYTES
        await client.close()


async def test_a_welcome_lists_at_most_welcome_users_names_and_counts_everyone() -> None:
    async with running_server(welcome_users=3) as server:
        early = [await NativeClient.connect(server, name) for name in ("ann", "bo", "cy", "di")]
        late = await NativeClient.connect(server, "ed")
        assert late.welcome is not None
        assert (late.welcome.users, late.welcome.online) == (["ann", "bo", "cy"], 5)
        # The lobby's own member list is complete.
        assert late.lobby is not None
        assert late.lobby.users == ["ann", "bo", "cy", "di", "ed"]
        plain = await PlainClient.connect(server)
        await plain.send_line("fay")
        line = await plain.expect_line(lambda line: "Welcome" in line)
        assert line.startswith("Welcome to the chat, fay! 6 here: ann, bo, cy and 3 more.")
        for client in [*early, late]:
            await client.close()
        await plain.close()
