"""Names (B1-B3): the ASCII rule, uniqueness under case folding, races, and release."""

from __future__ import annotations

import asyncio

import pytest

from tests.support.cases import INVALID_NAMES
from tests.support.net import NativeClient, PlainClient, running_server
from wirechat_common import (
    MAX_NAME_LENGTH,
    Error,
    ErrorCode,
    Hello,
    LeaveReason,
    Left,
    Welcome,
    encode,
)
from wirechat_server.server import ChatServer


@pytest.mark.parametrize("name", INVALID_NAMES)
async def test_invalid_native_name_is_refused_and_a_valid_hello_then_works(
    server: ChatServer, name: str
) -> None:
    watcher = await NativeClient.connect(server, "watcher")
    client = await NativeClient.connect(server)
    frame = encode(Hello(name=name))
    if "\x00" in name:
        assert b"\\u0000" in frame  # sent escaped, as JSON must
    await client.send_raw(frame)
    error = await client.expect(Error)
    assert (error.code, error.fatal) == (ErrorCode.INVALID_NAME, False)
    assert server.core.users() == ["watcher"]

    await client.send(Hello(name="bob"))
    welcome = await client.expect(Welcome)
    assert welcome.users == ["bob", "watcher"]
    await client.close()
    await watcher.close()


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("x" * (MAX_NAME_LENGTH + 1), id="33-chars"),
        pytest.param("b\u202eob", id="rtl-override"),
        pytest.param("\u0412ob", id="cyrillic-ve"),
        pytest.param("bob\x1b[31m", id="escape"),
        pytest.param("bob\u200b", id="zero-width-space"),
        pytest.param("b ob", id="inner-space"),
    ],
)
async def test_invalid_plain_name_gets_an_error_line_and_is_closed(name: str) -> None:
    async with running_server(plain_name_wait=0.1) as server:
        watcher = await NativeClient.connect(server, "watcher")
        client = await PlainClient.connect(server)
        await client.send_line(name)
        lines = await client.expect_closed()
        assert len(lines) == 1
        assert lines[0].startswith("error: ")
        assert lines[0].endswith("(invalid_name)")
        await watcher.sync()
        assert server.core.users() == ["watcher"]
        await watcher.close()


@pytest.mark.parametrize("name", ["a", "x" * MAX_NAME_LENGTH, "A-b_c.9", "0", "9.-_"])
async def test_valid_names_are_accepted(server: ChatServer, name: str) -> None:
    client = await NativeClient.connect(server, name)
    assert client.welcome is not None
    assert client.welcome.name == name
    await client.close()


@pytest.mark.parametrize("variant", ["Alice", "alice", "ALICE", "aLiCe"])
async def test_case_variants_of_a_name_are_taken(server: ChatServer, variant: str) -> None:
    alice = await NativeClient.connect(server, "Alice")
    impostor = await NativeClient.connect(server)
    await impostor.send(Hello(name=variant))
    error = await impostor.expect(Error)
    assert (error.code, error.fatal) == (ErrorCode.NAME_TAKEN, False)
    # The native client may try another name on the same connection.
    await impostor.send(Hello(name="Alice2"))
    assert (await impostor.expect(Welcome)).users == ["Alice", "Alice2"]
    await alice.sync()
    assert [type(message).__name__ for message in alice.inbox] == ["Joined"]
    await alice.close()
    await impostor.close()


async def test_simultaneous_hellos_for_one_name_give_exactly_one_welcome(
    server: ChatServer,
) -> None:
    """B2 race: two connections say hello with the same name in the same instant, 20 times."""
    for trial in range(20):
        first = await NativeClient.connect(server)
        second = await NativeClient.connect(server)
        name = f"racer{trial}" if trial % 2 else f"Racer{trial}"
        frame = encode(Hello(name=name))
        other = encode(Hello(name=name.swapcase() if trial % 3 == 0 else name))
        # Both hellos hit the wire before either side is read.
        first.writer.write(frame)
        second.writer.write(other)
        outcomes = await asyncio.gather(first.recv(), second.recv())
        welcomes = [m for m in outcomes if isinstance(m, Welcome)]
        refusals = [m for m in outcomes if isinstance(m, Error)]
        assert len(welcomes) == 1, outcomes
        assert len(refusals) == 1, outcomes
        assert refusals[0].code == ErrorCode.NAME_TAKEN
        await first.close()
        await second.close()


async def _assert_name_is_free_again(server: ChatServer, name: str) -> None:
    again = await NativeClient.connect(server)
    await again.send(Hello(name=name))
    welcome = await again.recv()
    assert isinstance(welcome, Welcome), welcome
    assert name in welcome.users
    await again.close()


@pytest.mark.parametrize("how", ["bye", "close", "rst"])
async def test_name_is_free_as_soon_as_its_owner_has_left(server: ChatServer, how: str) -> None:
    """B3: reusable immediately after the ``left`` event, however the owner went."""
    observer = await NativeClient.connect(server, "observer")
    owner = await NativeClient.connect(server, "owner")
    if how == "bye":
        await owner.send_raw(b'{"type":"bye"}\n')
        expected = LeaveReason.QUIT
    elif how == "close":
        await owner.close()
        expected = LeaveReason.DROPPED
    else:
        owner.abort()
        expected = LeaveReason.DROPPED
    left = await observer.expect(Left)
    assert (left.name, left.reason) == ("owner", expected)
    await _assert_name_is_free_again(server, "OWNER")
    await observer.close()


async def test_name_is_free_after_a_timeout_kick() -> None:
    async with running_server(idle_ping_interval=0.2, idle_timeout=0.2) as server:
        observer = await PlainClient.connect(server, "observer")  # plain: never pinged
        sleepy = await NativeClient.connect(server, "sleepy")  # never answers the ping
        assert await observer.expect_line(lambda line: line.startswith("sleepy left")) == (
            "sleepy left the conversation (timed out)"
        )
        await _assert_name_is_free_again(server, "sleepy")
        await observer.close()
        await sleepy.close()
