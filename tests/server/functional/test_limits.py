"""Size, time and count limits (A1-A5, D5, D4-lite): every bound a peer can push against."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.net import (
    WAIT,
    NativeClient,
    PlainClient,
    open_socket,
    push_until_closed,
    running_server,
)
from wirechat_common import (
    MAX_FRAME_BYTES,
    MAX_TEXT_BYTES,
    Ack,
    Decoder,
    Error,
    ErrorCode,
    Hello,
    LeaveReason,
    Left,
    Message,
    Ping,
    Pong,
    Say,
    ServerMessage,
    Welcome,
    encode,
)
from wirechat_server.server import ChatServer

MIB = 1024 * 1024


def chunks_of(first: bytes, filler: bytes, total: int, size: int = 16 * 1024) -> Iterator[bytes]:
    """``first`` then ``filler`` bytes in chunks of ``size``, ``total`` bytes in all."""
    yield first
    remaining = total - len(first)
    while remaining > 0:
        piece = min(size, remaining)
        yield filler[:1] * piece
        remaining -= piece


def decode_all(data: bytes) -> list[object]:
    return list(Decoder(types=ServerMessage).feed(data))


# -- A1, A2: oversized input is cut off at the limit, while the peer is still sending ------------


@pytest.mark.parametrize("registered", [False, True], ids=["unregistered", "registered"])
async def test_native_megabyte_without_newline_is_cut_at_the_frame_limit(registered: bool) -> None:
    async with running_server(msg_rate=0) as server:
        observer = await NativeClient.connect(server, "observer")
        hello = encode(Hello(name="attacker")) if registered else b""
        started = time.monotonic()
        sent, received = await push_until_closed(
            server, chunks_of(b"{", b"x", MIB), first=hello, until=b'"type":"history"'
        )
        elapsed = time.monotonic() - started

        # The server closed the connection long before the megabyte was through.
        assert sent < MIB // 4, f"the server let {sent} bytes in"
        assert elapsed < 1.0
        messages = decode_all(received)
        assert isinstance(messages[-1], Error)
        assert (messages[-1].code, messages[-1].fatal) == (ErrorCode.FRAME_TOO_LARGE, True)
        if registered:
            assert isinstance(messages[0], Welcome)
            left = await observer.expect(Left)
            assert (left.name, left.reason) == ("attacker", LeaveReason.KICKED)

        # Everyone else is unaffected; the name is free again.
        await observer.send(Ping(token="still-here"))
        assert await observer.expect(Pong) == Pong(token="still-here")
        await observer.sync()
        assert server.core.users() == ["observer"]
        assert len(server.connections) == 1
        await observer.close()


@pytest.mark.parametrize("registered", [False, True], ids=["unregistered", "registered"])
async def test_plain_megabyte_line_gets_an_error_line_and_is_closed(registered: bool) -> None:
    async with running_server(msg_rate=0) as server:
        observer = await PlainClient.connect(server, "observer")
        name = b"attacker\n" if registered else b""
        sent, received = await push_until_closed(
            server, chunks_of(b"x", b"x", MIB), first=name, until=b"Welcome"
        )
        assert sent < MIB // 4, f"the server let {sent} bytes in"
        lines = received.decode().splitlines()
        assert lines[-1].startswith("error: ")
        assert lines[-1].endswith("(frame_too_large)")
        assert "8192" in lines[-1]
        if registered:
            assert "Welcome" in lines[0]
            assert await observer.recv_line() == "attacker joined the conversation"
            assert await observer.recv_line() == "attacker left the conversation (kicked)"
        await observer.send_line("/who")
        assert await observer.recv_line() == "1 here: observer"
        await observer.close()


# -- A4: the exact frame limit -------------------------------------------------------------------


def say_of_size(size: int) -> bytes:
    """A valid ``say`` frame of exactly ``size`` bytes (no terminator), padded with an unknown
    field (unknown fields are ignored)."""
    head = b'{"type":"say","text":"exact","pad":"'
    tail = b'"}'
    frame = head + b"p" * (size - len(head) - len(tail)) + tail
    assert len(frame) == size
    return frame


@pytest.mark.parametrize("terminator", [b"\n", b"\r\n"], ids=["lf", "crlf"])
@pytest.mark.parametrize("split", [False, True], ids=["whole", "split"])
async def test_frame_of_exactly_max_frame_bytes_is_accepted(terminator: bytes, split: bool) -> None:
    async with running_server() as server:
        observer = await NativeClient.connect(server, "observer")
        sender = await NativeClient.connect(server, "sender")
        frame = say_of_size(MAX_FRAME_BYTES) + terminator
        if split:  # the body (and the \r) first, then the rest once the server has read it
            await sender.send_raw(frame[:-1])
            await observer.sync()
            await sender.send_raw(frame[-1:])
        else:
            await sender.send_raw(frame)
        message = await observer.expect(Message)
        assert (message.sender, message.text) == ("sender", "exact")
        assert isinstance(await sender.expect(Ack), Ack)
        await observer.close()
        await sender.close()


@pytest.mark.parametrize("terminator", [b"\n", b"\r\n"], ids=["lf", "crlf"])
async def test_frame_one_byte_over_max_frame_bytes_is_refused(terminator: bytes) -> None:
    async with running_server() as server:
        observer = await NativeClient.connect(server, "observer")
        sender = await NativeClient.connect(server, "sender")
        await sender.send_raw(say_of_size(MAX_FRAME_BYTES + 1) + terminator)
        seen = await sender.expect_closed()
        error = seen[-1]
        assert isinstance(error, Error)
        assert (error.code, error.fatal) == (ErrorCode.FRAME_TOO_LARGE, True)
        left = await observer.expect(Left)
        assert (left.name, left.reason) == ("sender", LeaveReason.KICKED)
        assert not [m for m in observer.inbox if isinstance(m, Message)]
        await observer.close()


async def test_frame_limit_is_the_setting() -> None:
    async with running_server(max_frame_bytes=200, max_text_bytes=100) as server:
        observer = await NativeClient.connect(server, "observer")
        sender = await NativeClient.connect(server, "sender")
        await sender.send_raw(say_of_size(200) + b"\n")
        assert (await observer.expect(Message)).text == "exact"
        await sender.send_raw(say_of_size(201) + b"\n")
        error = (await sender.expect_closed())[-1]
        assert isinstance(error, Error)
        assert error.code == ErrorCode.FRAME_TOO_LARGE
        await observer.close()


# -- text limit ------------------------------------------------------------------------------------


async def test_text_of_max_text_bytes_is_accepted_and_one_more_byte_is_refused(
    server: ChatServer,
) -> None:
    observer = await NativeClient.connect(server, "observer")
    sender = await NativeClient.connect(server, "sender")
    accepted = ["x" * MAX_TEXT_BYTES, "\u00e9" * (MAX_TEXT_BYTES // 2)]  # 4096 bytes each
    refused = ["x" * (MAX_TEXT_BYTES + 1), "\u00e9" * (MAX_TEXT_BYTES // 2) + "x"]
    for text in refused:
        await sender.send(Say(text=text))
        error = await sender.expect(Error)
        assert (error.code, error.fatal) == (ErrorCode.TEXT_TOO_LONG, False)
    for text in accepted:
        await sender.send(Say(text=text))
    relayed = await observer.collect(Message, 2)
    assert [m.text for m in relayed] == accepted  # nothing of the refused text came through
    await observer.close()
    await sender.close()


# -- A3: junk on the plain port ------------------------------------------------------------------


def junk(size: int, seed: int) -> bytes:
    """``size`` bytes of binary junk with no newline and invalid UTF-8."""
    data = bytearray(random.Random(seed).randbytes(size).replace(b"\n", b"\x00"))
    data[0] = 0xFF
    return bytes(data)


JUNK_CASES = [
    pytest.param(junk(600, 1), {}, ("bad_utf8", "register_timeout"), id="binary"),
    pytest.param(b" " * 600, {}, ("register_timeout",), id="blanks"),
    pytest.param(b"A" * 600, {}, ("invalid_name",), id="ascii"),
    pytest.param(
        junk(600, 2),
        {"max_line_bytes": 512, "max_text_bytes": 256, "plain_name_wait": 5.0},
        ("frame_too_large",),
        id="line-limit",
    ),
]


@pytest.mark.parametrize(("data", "settings", "codes"), JUNK_CASES)
async def test_junk_on_the_plain_port_is_closed_without_spinning(
    data: bytes, settings: dict[str, Any], codes: tuple[str, ...]
) -> None:
    async with running_server(register_timeout=0.5, **settings) as server:
        assert b"\n" not in data
        reader, writer = await open_socket(server)
        writer.write(data)
        started_cpu, started = time.process_time(), time.monotonic()
        received = b""
        async with asyncio.timeout(0.5 + 1.0):  # at the latest at register_timeout
            while chunk := await reader.read(4096):
                received += chunk
        cpu, elapsed = time.process_time() - started_cpu, time.monotonic() - started
        lines = received.decode().splitlines()
        assert len(lines) >= 1
        assert lines[-1].startswith("error: ")
        assert lines[-1].endswith(tuple(f"({code})" for code in codes)), lines
        # The wait was idle: a busy loop (ngircd #343) would burn a whole core.
        assert cpu < 0.5 * elapsed + 0.05, f"{cpu:.2f} s of CPU in {elapsed:.2f} s"
        writer.close()
        assert not server.connections or all(c.closed for c in server.connections)


# -- registration deadline and budget ------------------------------------------------------------


async def test_silent_connection_is_closed_at_register_timeout() -> None:
    async with running_server(register_timeout=0.5) as server:
        observer = await NativeClient.connect(server, "observer")
        silent = await PlainClient.connect(server)
        started = time.monotonic()
        lines = await silent.expect_closed()
        elapsed = time.monotonic() - started
        assert len(lines) == 1
        assert lines[0].startswith("error: ")
        assert lines[0].endswith("(register_timeout)")
        assert 0.45 <= elapsed < 1.5
        # A registered client is not subject to the registration deadline.
        await observer.sync()
        assert server.core.users() == ["observer"]
        await observer.close()


async def test_native_connection_without_hello_is_closed_at_register_timeout() -> None:
    async with running_server(register_timeout=0.5) as server:
        client = await NativeClient.connect(server)
        await client.send(Ping(token="not-a-hello"))
        seen = await client.expect_closed()
        assert seen[0] == Pong(token="not-a-hello")
        error = seen[-1]
        assert isinstance(error, Error)
        assert (error.code, error.fatal) == (ErrorCode.REGISTER_TIMEOUT, True)
        assert len(seen) == 2


async def test_too_many_frames_before_hello_is_register_abuse() -> None:
    async with running_server(pre_register_max_frames=3) as server:
        client = await NativeClient.connect(server)
        await client.send(*(Ping(token=str(n)) for n in range(4)), Hello(name="late"))
        seen = await client.expect_closed()
        assert seen[:3] == [Pong(token="0"), Pong(token="1"), Pong(token="2")]
        error = seen[3]
        assert isinstance(error, Error)
        assert (error.code, error.fatal) == (ErrorCode.REGISTER_ABUSE, True)
        assert len(seen) == 4
        assert not server.core.is_taken("late")


async def test_frames_within_the_pre_register_budget_then_hello_work() -> None:
    async with running_server(pre_register_max_frames=3) as server:
        client = await NativeClient.connect(server)
        await client.send(Ping(token="0"), Say(text="early"), Hello(name="ontime"))
        assert await client.recv() == Pong(token="0")
        assert (await client.recv()).code == ErrorCode.NOT_REGISTERED  # type: ignore[union-attr]
        assert isinstance(await client.recv(), Welcome)
        await client.close()


# -- D4-lite: the connection cap -----------------------------------------------------------------


async def test_connection_past_max_connections_gets_an_error_line_and_is_closed() -> None:
    async with running_server(max_connections=3) as server:
        first = await NativeClient.connect(server, "first")
        second = await PlainClient.connect(server, "second")
        third = await NativeClient.connect(server)  # not registered yet: still counts

        reader, writer = await open_socket(server)
        async with asyncio.timeout(WAIT):
            refusal = await reader.read()
        writer.close()
        line = refusal.decode()
        assert line.startswith("error: ")
        assert line.endswith("(server_full)\n")
        assert line.count("\n") == 1

        # The cap did not disturb anyone already in.
        await third.send(Hello(name="third"))
        assert isinstance(await third.expect(Welcome), Welcome)

        # Once one leaves, a newcomer is admitted.
        await second.send_line("bye")
        await second.expect_closed()
        await first.sync()
        newcomer = await NativeClient.connect(server, "newcomer")
        assert newcomer.welcome is not None
        assert newcomer.welcome.users == ["first", "newcomer", "third"]
        for client in (first, third, newcomer):
            await client.close()


# -- A5: one byte at a time --------------------------------------------------------------------


async def test_say_sent_byte_by_byte_arrives_intact(server: ChatServer) -> None:
    observer = await NativeClient.connect(server, "observer")
    plain = await PlainClient.connect(server, "plain")
    trickler = await NativeClient.connect(server, nodelay=True)
    text = "h\u00e9llo w\u00f6rld \u2603 \U0001f469\u200d\U0001f4bb"  # multi-byte characters
    stream = encode(Hello(name="trickler")) + encode(Say(text=text, client_id="slow"))
    for byte in stream:
        await trickler.send_raw(bytes([byte]))
        await asyncio.sleep(0)  # a yield, so the server reads (nearly) every byte on its own
    message = await observer.expect(Message)
    assert (message.sender, message.text) == ("trickler", text)
    assert await plain.expect_line(lambda line: line.startswith("trickler:")) == (
        f"trickler: {text}"
    )
    ack = await trickler.expect(Ack)
    assert ack.client_id == "slow"

    # The same for a plain-text line (after the name, which is a timing matter of its own).
    for byte in f"{text}\r\n".encode():
        await plain.send_raw(bytes([byte]))
        await asyncio.sleep(0)
    message = await observer.expect(Message)
    assert (message.sender, message.text) == ("plain", text)
    for client in (observer, plain, trickler):
        await client.close()
