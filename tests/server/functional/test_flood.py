"""Floods (D1, A6): the rate limit delays first and cuts only past the backlog; pipelining works."""

from __future__ import annotations

import time
from typing import Any

from tests.support.net import NativeClient, PlainClient, running_server
from wirechat_common import (
    Ack,
    Error,
    ErrorCode,
    Hello,
    LeaveReason,
    Left,
    Message,
    Say,
    Welcome,
    encode,
)

FLOOD_SETTINGS: dict[str, Any] = {"msg_burst": 10, "msg_rate": 20.0, "flood_backlog": 1.0}


def says(count: int, prefix: str = "m") -> bytes:
    """``count`` say frames in one buffer, each with its number as text and client_id."""
    return b"".join(
        encode(Say(text=f"{prefix}{n}", client_id=f"{prefix}{n}")) for n in range(count)
    )


async def test_burst_past_msg_burst_is_delayed_not_dropped() -> None:
    async with running_server(**FLOOD_SETTINGS) as server:
        observer = await NativeClient.connect(server, "observer")
        plain = await PlainClient.connect(server, "plain")
        sender = await NativeClient.connect(server, "sender")
        started = time.monotonic()
        await sender.send_raw(says(15))
        acks = await sender.collect(Ack, 15)
        elapsed = time.monotonic() - started
        relayed = await observer.collect(Message, 15)

        assert [m.text for m in relayed] == [f"m{n}" for n in range(15)]
        assert [a.client_id for a in acks] == [f"m{n}" for n in range(15)]
        assert [a.id for a in acks] == [m.id for m in relayed]
        # 10 at once, then 5 more at 20 per second: about a quarter of a second, not instant.
        assert elapsed >= 0.2, f"15 requests served in {elapsed:.3f} s: no rate limit"
        for n in range(15):
            assert await plain.expect_line(lambda line: line.startswith("sender:")) == (
                f"sender: m{n}"
            )
        # Still connected and welcome to carry on.
        await sender.sync()
        assert server.core.users() == ["observer", "plain", "sender"]
        for client in (observer, sender):
            await client.close()
        await plain.close()


async def test_backlog_past_flood_backlog_is_cut_as_flood() -> None:
    async with running_server(**FLOOD_SETTINGS) as server:
        observer = await NativeClient.connect(server, "observer")
        sender = await NativeClient.connect(server, "sender")
        await sender.send_raw(says(200))
        seen = await sender.expect_closed()
        error = seen[-1]
        assert isinstance(error, Error)
        assert (error.code, error.fatal) == (ErrorCode.FLOOD, True)
        # Acks follow the commit, which the cut outruns: what the sender was allowed to say is
        # stored and relayed all the same, so none of the accepted messages is lost.
        assert not [m for m in seen if isinstance(m, Ack)]

        # The others got what was accepted before the cut, in order, and then heard why.
        await sender.close()
        probe = await NativeClient.connect(server, "probe")
        await probe.send(Say(text="end", client_id="end"))
        events: list[object] = []
        while not events or not _is_end(events[-1]):
            events.append(await observer.recv())
        (left,) = [e for e in events if isinstance(e, Left) and e.name == "sender"]
        assert left.reason == LeaveReason.FLOOD
        relayed = [m for m in events if isinstance(m, Message) and m.sender == "sender"]
        assert 1 <= len(relayed) < 200
        assert [m.text for m in relayed] == [f"m{n}" for n in range(len(relayed))]
        assert [m.id for m in relayed] == sorted(m.id for m in relayed)
        assert events.index(left) > events.index(relayed[-1])  # its last words, then its leave
        assert server.core.users() == ["observer", "probe"]
        await probe.close()
        await observer.close()


async def test_a_steady_sender_within_the_rate_is_never_cut() -> None:
    async with running_server(msg_burst=2, msg_rate=100.0, flood_backlog=0.05) as server:
        observer = await NativeClient.connect(server, "observer")
        sender = await NativeClient.connect(server, "sender")
        for n in range(30):
            await sender.send(Say(text=f"s{n}"))
            await sender.expect(Ack)  # one at a time: never more than one queued
        assert [m.text for m in await observer.collect(Message, 30)] == [f"s{n}" for n in range(30)]
        await observer.close()
        await sender.close()


async def test_thousand_pipelined_frames_are_all_processed_in_order() -> None:
    """A6: with the rate limit off, 1000 frames in one send: all relayed and acked, in order."""
    async with running_server(msg_rate=0) as server:
        observer = await NativeClient.connect(server, "observer")
        plain = await PlainClient.connect(server, "plain")
        sender = await NativeClient.connect(server, "sender")
        await sender.send_raw(says(1000, prefix="p"))
        acks = await sender.collect(Ack, 1000)
        relayed = await observer.collect(Message, 1000)
        assert [a.client_id for a in acks] == [f"p{n}" for n in range(1000)]
        assert [m.text for m in relayed] == [f"p{n}" for n in range(1000)]
        ids = [m.id for m in relayed]
        assert ids == list(range(ids[0], ids[0] + 1000))
        assert [a.id for a in acks] == ids
        assert [await plain.recv_line() for _ in range(1001)][1:] == [
            f"sender: p{n}" for n in range(1000)
        ]
        for client in (observer, sender):
            await client.close()
        await plain.close()


async def test_cheap_requests_share_the_same_budget() -> None:
    """D2: pings and who count against the rate limit like says do."""
    async with running_server(**FLOOD_SETTINGS) as server:
        observer = await NativeClient.connect(server, "observer")
        pinger = await NativeClient.connect(server, "pinger")
        await pinger.send_raw(b'{"type":"ping"}\n{"type":"who"}\n' * 100)
        seen = await pinger.expect_closed()
        error = seen[-1]
        assert isinstance(error, Error)
        assert (error.code, error.fatal) == (ErrorCode.FLOOD, True)
        assert len(seen) < 200
        left = await observer.expect(Left)
        assert (left.name, left.reason) == ("pinger", LeaveReason.FLOOD)
        await observer.close()


async def test_a_client_held_back_by_the_rate_limit_is_not_timed_out() -> None:
    # The server stops reading a rate-limited client, so it cannot see its pongs; being held
    # back must not count as silence. 4 requests at 2 per second take 1.5 s, several times
    # idle_ping_interval + idle_timeout.
    settings: dict[str, Any] = {
        "msg_burst": 1,
        "msg_rate": 2.0,
        "flood_backlog": 5.0,
        "idle_ping_interval": 0.1,
        "idle_timeout": 0.1,
    }
    async with running_server(**settings) as server:
        sender = await NativeClient.connect(server, "sender")
        sender.auto_pong = True  # answers pings, as a client should, once the server reads it
        await sender.send_raw(says(4))
        acks = await sender.collect(Ack, 4)
        assert [a.client_id for a in acks] == [f"m{n}" for n in range(4)]
        assert server.core.users() == ["sender"]
        await sender.close()


def _is_end(event: object) -> bool:
    return isinstance(event, Message) and event.text == "end"


async def test_a_users_connections_share_one_rate_budget() -> None:
    # Four connections of one user, each sending a burst's worth at once: together they get
    # one burst, then the rate, as one connection would (not four bursts and four rates).
    async with running_server(msg_burst=5, msg_rate=20, flood_backlog=10) as server:
        first = await NativeClient.connect(server, "multi")
        assert first.welcome is not None
        token = first.welcome.session
        others = []
        for _ in range(3):
            other = await NativeClient.connect(server, None)
            await other.send(Hello(name="multi", session=token))
            await other.expect(Welcome)
            others.append(other)
        connections = [first, *others]
        started = time.monotonic()
        for index, connection in enumerate(connections):
            await connection.send_raw(says(5, prefix=f"c{index}-"))
        for connection in connections:
            await connection.collect(Ack, 5)
        elapsed = time.monotonic() - started
        # 20 requests, a burst of 5 shared, then 20 a second: at least 0.75 s (four
        # separate budgets would have taken them all at once). A busy machine only adds.
        assert elapsed >= 0.7, f"20 requests of one user served in {elapsed:.3f} s"
        for connection in connections:
            await connection.close()
