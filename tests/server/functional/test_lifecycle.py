"""Connection lifecycles: liveness (idle pings), internal faults (A12), abortive closes (C6),
many idle clients (F1) and graceful shutdown."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import psutil
import pytest

from tests.support.net import (
    WAIT,
    Listener,
    NativeClient,
    NonReader,
    PlainClient,
    open_socket,
    running_server,
)
from wirechat_common import (
    Ack,
    Bye,
    Error,
    ErrorCode,
    Joined,
    LeaveReason,
    Left,
    Message,
    Ping,
    Pong,
    Say,
    Users,
    Who,
    encode,
)
from wirechat_server.server import ChatServer

# -- idle native clients are pinged, and dropped if they do not answer ---------------------------


async def test_idle_client_is_pinged_kept_if_it_answers_and_dropped_if_not() -> None:
    async with running_server(idle_ping_interval=0.3, idle_timeout=0.3) as server:
        observer = Listener(await NativeClient.connect(server, "observer"))  # answers pings
        lively = await NativeClient.connect(server, "lively")
        sleepy = await NativeClient.connect(server, "sleepy")
        started = time.monotonic()

        # Both are pinged once idle; only one answers, three times in a row.
        ping = await sleepy.expect(Ping)
        assert ping.token
        assert time.monotonic() - started >= 0.25

        async def answer_three_pings() -> None:
            for _ in range(3):
                ping = await lively.expect(Ping)
                await lively.send(Pong(token=ping.token))

        seen, _ = await asyncio.gather(sleepy.expect_closed(), answer_three_pings())
        error = seen[-1]
        assert isinstance(error, Error)
        assert (error.code, error.fatal) == (ErrorCode.TIMEOUT, True)
        await observer.finish()
        assert [(left.name, left.reason) for left in observer.left] == [
            ("sleepy", LeaveReason.TIMEOUT)
        ]

        # Three ping intervals later, the one that answered is still here.
        await lively.send(Who())
        assert (await lively.expect(Users)).users == ["lively", "observer"]
        await observer.client.close()
        await lively.close()


async def test_any_traffic_counts_as_a_sign_of_life() -> None:
    async with running_server(idle_ping_interval=0.2, idle_timeout=0.2, msg_rate=0) as server:
        chatty = await NativeClient.connect(server, "chatty")
        listener = await PlainClient.connect(server, "listener")
        # Saying something every 0.1 s for longer than ping interval and timeout together.
        for n in range(6):
            await chatty.send(Say(text=f"tick {n}"))
            await chatty.expect(Ack)
            await asyncio.sleep(0.1)  # let time pass: the point is the clock, not an event
        assert not [m for m in chatty.inbox if isinstance(m, Ping)]
        await chatty.sync()
        assert not [m for m in chatty.inbox if isinstance(m, Ping)]
        assert server.core.users() == ["chatty", "listener"]
        await chatty.close()
        await listener.close()


async def test_plain_clients_are_never_pinged_nor_timed_out() -> None:
    async with running_server(idle_ping_interval=0.2, idle_timeout=0.2) as server:
        plain = await PlainClient.connect(server, "plain")
        observer = await NativeClient.connect(server, "observer")
        observer.auto_pong = True
        sleepy = await NativeClient.connect(server, "sleepy")
        # Wait for an event that takes two idle periods: sleepy's timeout.
        left = await observer.expect(Left)
        assert (left.name, left.reason) == ("sleepy", LeaveReason.TIMEOUT)
        assert await plain.recv_line() == "observer joined the conversation"
        assert await plain.recv_line() == "sleepy joined the conversation"
        assert await plain.recv_line() == "sleepy left the conversation (timed out)"
        await plain.send_line("/who")
        assert await plain.recv_line() == "2 here: observer, plain"
        await plain.close()
        await observer.close()
        await sleepy.close()


# -- A12: an internal error ends only the connection it happened on ------------------------------


def fail_once(monkeypatch: pytest.MonkeyPatch, server: ChatServer) -> list[str]:
    """Make the running server's ``core.say`` raise on its next call (fault injection)."""
    real_say = server.core.say
    calls: list[str] = []

    def say(member: Any, text: str, **options: Any) -> None:
        calls.append(text)
        if len(calls) == 1:
            raise RuntimeError("injected fault")
        real_say(member, text, **options)

    monkeypatch.setattr(server.core, "say", say)
    return calls


@pytest.mark.parametrize("kind", ["native", "plain"])
async def test_internal_error_closes_only_that_connection(
    server: ChatServer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    kind: str,
) -> None:
    observer = await NativeClient.connect(server, "observer")
    other = await PlainClient.connect(server, "other")
    calls = fail_once(monkeypatch, server)
    if kind == "native":
        victim = await NativeClient.connect(server, "victim")
        await victim.send(Say(text="boom"))
        seen = await victim.expect_closed()
        error = seen[-1]
        assert isinstance(error, Error)
        assert (error.code, error.fatal) == (ErrorCode.INTERNAL_ERROR, True)
        assert "injected" not in error.detail
        assert "Traceback" not in error.detail
    else:
        plain_victim = await PlainClient.connect(server, "victim")
        await plain_victim.send_line("boom")
        lines = await plain_victim.expect_closed()
        assert lines[-1].endswith("(internal_error)")
        assert "injected" not in lines[-1]
    assert calls == ["boom"]

    left = await observer.expect(Left)
    assert (left.name, left.reason) == ("victim", LeaveReason.KICKED)
    # Nothing of the failed request was relayed; everyone else carries on chatting.
    await other.send_line("still here")
    message = await observer.expect(Message)
    assert (message.sender, message.text) == ("other", "still here")
    await observer.send(Say(text="me too"))
    assert await other.expect_line(lambda line: line.startswith("observer:")) == (
        "observer: me too"
    )
    # The server still accepts newcomers, the victim's name included.
    again = await NativeClient.connect(server, "victim")
    assert again.welcome is not None
    assert again.welcome.users == ["observer", "other", "victim"]

    # One log line with the traceback, naming the peer.
    failures = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(failures) == 1
    assert "internal error" in failures[0].getMessage()
    assert "victim" in failures[0].getMessage()
    assert failures[0].exc_info is not None
    assert "injected fault" in str(failures[0].exc_info[1])
    for client in (observer, again):
        await client.close()
    await other.close()


# -- C6-lite: abortive closes ----------------------------------------------------------------------


async def test_abortive_closes_each_announce_one_drop_and_leave_nothing_behind(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="wirechat.server")
    count = 200
    async with running_server() as server:
        observer = await NativeClient.connect(server, "observer")
        clients = await asyncio.gather(
            *(NativeClient.connect(server, f"c{n}") for n in range(count))
        )
        joined = await observer.collect(Joined, count)
        assert {event.name for event in joined} == {f"c{n}" for n in range(count)}

        # Half stop in the middle of a frame, some with unread output in their buffers.
        for n, client in enumerate(clients):
            if n % 2:
                client.writer.write(b'{"type":"say","text":"cut off in the mid')
        await asyncio.gather(*(client.writer.drain() for client in clients))
        for client in clients:
            client.abort()

        left = await observer.collect(Left, count)
        assert sorted(event.name for event in left) == sorted(f"c{n}" for n in range(count))
        assert {event.reason for event in left} == {LeaveReason.DROPPED}
        await observer.sync()
        assert not [m for m in observer.inbox if isinstance(m, Left | Message)]

        (remaining,) = server.connections
        assert remaining.name == "observer"
        assert len(server.core) == 1
        # Except the store's: a slow disk may well warn meanwhile, and that is not the subject.
        others = [r for r in caplog.records if r.name != "wirechat.store"]
        assert not [r for r in others if r.levelno >= logging.WARNING]
        disconnects = [r for r in caplog.records if "reason=dropped" in r.getMessage()]
        assert len(disconnects) == count
        await observer.close()


# -- F1-lite: many idle clients --------------------------------------------------------------------


# On uvloop, with the clients sharing the server's loop, the 500 joins land in as many separate
# turns (each a write to every member) and take seconds; the uvloop server is measured with 500
# clients in another process in tests/e2e instead.
@pytest.mark.asyncio(loop_factories=["asyncio"])
async def test_five_hundred_idle_clients_register_and_leave_cleanly() -> None:
    count = 500
    process = psutil.Process()
    async with running_server() as server:
        baseline_fds = process.num_fds()
        clients: list[NativeClient] = []
        for start in range(0, count, 100):
            clients += await asyncio.gather(
                *(NativeClient.connect(server, f"idle{n}") for n in range(start, start + 100))
            )
        assert len(server.core) == count
        assert len(server.connections) == count
        assert server.core.users()[:2] == ["idle0", "idle1"]
        # Two descriptors per connection in this process (client and server side), plus change.
        assert process.num_fds() - baseline_fds <= 2 * count + 10

        for client in clients:
            client.writer.write(b'{"type":"bye"}\n')

        async def leave(client: NativeClient) -> bytes:
            async with asyncio.timeout(WAIT):
                rest = await client.reader.read()  # everything up to EOF, undecoded: fast
            await client.close()
            return rest

        for rest in await asyncio.gather(*(leave(client) for client in clients)):
            assert rest.endswith(encode(Bye(reason=LeaveReason.QUIT)))

        last = await NativeClient.connect(server, "last")
        await last.sync()
        assert last.welcome is not None
        assert last.welcome.users == ["last"]
        assert len(server.core) == 1
        assert len(server.connections) == 1
        await last.close()
        # Every descriptor came back.
        assert process.num_fds() <= baseline_fds + 2


# -- graceful shutdown -----------------------------------------------------------------------------


async def test_shutdown_says_goodbye_to_everyone_and_is_idempotent(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="wirechat.server")
    async with running_server() as server:
        native = await NativeClient.connect(server, "native")
        plain = await PlainClient.connect(server, "plain")
        anonymous_plain = await PlainClient.connect(server)
        anonymous_native = await NativeClient.connect(server)
        await anonymous_native.send(Ping(token="hi"))
        assert await anonymous_native.recv() == Pong(token="hi")
        assert (await native.expect(Joined)).name == "plain"
        host, port = server.address

        # Two calls at once (a signal during a shutdown, say): one shutdown, both return.
        first = asyncio.create_task(server.shutdown())
        await asyncio.wait_for(server.shutdown(), WAIT)
        assert first.done()

        # Each hears the notice in its own protocol, and nothing else (no "left" chatter).
        assert await native.expect_closed() == [Bye(reason=LeaveReason.SHUTDOWN)]
        assert await plain.expect_closed() == ["The server is shutting down. Goodbye!"]
        assert await anonymous_plain.expect_closed() == ["The server is shutting down. Goodbye!"]
        assert await anonymous_native.expect_closed() == [Bye(reason=LeaveReason.SHUTDOWN)]
        assert not server.connections
        assert len(server.core) == 0

        # A later call returns at once, and the port is closed.
        await asyncio.wait_for(server.shutdown(), 0.5)
        with pytest.raises(ConnectionRefusedError):
            await open_socket((host, port))
        messages = [record.getMessage() for record in caplog.records]
        assert len([m for m in messages if m.startswith("shutting down")]) == 1
        assert messages.count("stopped") == 1


async def test_shutdown_does_not_wait_forever_for_a_client_that_does_not_read() -> None:
    async with running_server(
        msg_rate=0, max_output_buffer=64 * 1024 * 1024, shutdown_timeout=0.3
    ) as server:
        stuck = await NonReader.connect(server, "stuck")
        sender = await NativeClient.connect(server, "sender")
        await sender.sync()
        (connection,) = [c for c in server.connections if c.name == "stuck"]
        assert connection.transport is not None
        text = "y" * 1024
        while connection.transport.get_write_buffer_size() == 0:
            await sender.send(*(Say(text=text) for _ in range(32)))
            await sender.collect(Ack, 32)

        started = time.monotonic()
        await asyncio.wait_for(server.shutdown(), WAIT)
        elapsed = time.monotonic() - started
        # It waited shutdown_timeout for the stuck output, then cut the connection.
        assert 0.25 <= elapsed < 2.0
        assert not server.connections
        assert (await sender.expect_closed())[-1] == Bye(reason=LeaveReason.SHUTDOWN)
        stuck.close()
