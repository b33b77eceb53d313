"""Admission: the global cap and the per-address caps (catalogue C4, D3, D4)."""

from __future__ import annotations

import asyncio
import logging

import pytest

from tests.support.net import WAIT, NativeClient, eventually, running_server
from wirechat_common import Error, ErrorCode, Hello, Join, Part, RoomInfo, Welcome
from wirechat_server.refusals import REPORT_EVERY
from wirechat_server.server import ChatServer


async def _raw(server: ChatServer, local: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    host, port = server.address
    return await asyncio.open_connection(host, port, local_addr=(local, 0))


async def _refusal(reader: asyncio.StreamReader) -> bytes:
    async with asyncio.timeout(WAIT):
        line = await reader.readline()
        assert await reader.read() == b""  # and then the door
    return line


async def test_per_address_cap_refuses_extras_but_not_other_addresses() -> None:
    async with running_server(max_connections_per_ip=3) as server:
        held = [
            await NativeClient.connect(server, f"u{i}", local_addr="127.0.0.5") for i in range(3)
        ]
        reader, writer = await _raw(server, "127.0.0.5")
        line = await _refusal(reader)
        assert line.endswith(b"(too_many_connections)\n")
        writer.close()
        # connect() waits for the welcome: another address is let in.
        other = await NativeClient.connect(server, "elsewhere", local_addr="127.0.0.6")
        # Closing one frees its slot for the same address.
        await held[0].close()
        await eventually(lambda: len(server.connections) == 3)
        again = await NativeClient.connect(server, "back", local_addr="127.0.0.5")
        for client in [*held[1:], other, again]:
            await client.close()


async def test_connect_rate_per_address_counts_closed_connections_too() -> None:
    async with running_server(connect_rate_per_ip=3) as server:
        for index in range(3):
            client = await NativeClient.connect(server, f"r{index}", local_addr="127.0.0.7")
            await client.close()
        reader, writer = await _raw(server, "127.0.0.7")
        assert b"connecting too often" in await _refusal(reader)
        writer.close()
        fresh = await NativeClient.connect(server, "fresh", local_addr="127.0.0.8")
        assert fresh.welcome is not None
        await fresh.close()


async def test_loopback_is_exempt_from_the_per_address_caps() -> None:
    async with running_server(max_connections_per_ip=2, connect_rate_per_ip=2) as server:
        clients = [await NativeClient.connect(server, f"l{i}") for i in range(5)]
        assert all(client.welcome is not None for client in clients)
        for client in clients:
            await client.close()


async def test_slowloris_is_capped_per_address_and_timed_out() -> None:
    # C4: '{' then a byte now and then, from one address; the cap refuses extras, the
    # registration timeout closes the rest, and another address is served at once.
    async with running_server(max_connections_per_ip=4, register_timeout=0.5) as server:
        streams = [await _raw(server, "127.0.0.9") for _ in range(6)]
        for _, writer in streams:
            writer.write(b"{")
        refused = closed = 0
        async with asyncio.timeout(WAIT):
            for reader, writer in streams:
                data = await reader.read()
                if b"too_many_connections" in data:
                    refused += 1
                else:
                    assert b"register_timeout" in data
                    closed += 1
                writer.close()
        assert (refused, closed) == (2, 4)
        visitor = await NativeClient.connect(server, "visitor", local_addr="127.0.0.10")
        assert visitor.welcome is not None
        await visitor.close()


async def test_server_full_refuses_with_a_line_then_admits_after_a_leave() -> None:
    async with running_server(max_connections=2) as server:
        first = await NativeClient.connect(server, "first")
        second = await NativeClient.connect(server, "second")
        reader, writer = await _raw(server, "127.0.0.1")
        assert (await _refusal(reader)).endswith(b"(server_full)\n")
        writer.close()
        await first.close()
        await eventually(lambda: len(server.connections) == 1)
        third = await NativeClient.connect(server, "third")
        assert third.welcome is not None
        await second.close()
        await third.close()


async def test_forgotten_addresses_do_not_accumulate() -> None:
    async with running_server(connect_rate_per_ip=6000, register_timeout=0.2) as server:
        for index in range(5):
            client = await NativeClient.connect(
                server, f"a{index}", local_addr=f"127.0.1.{index + 1}"
            )
            await client.close()
        await eventually(lambda: server.admission.tracked_addresses() == 0)
        assert server.admission.total == 0


async def test_refusals_of_one_address_are_logged_once_then_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with running_server(max_connections_per_ip=1) as server:
        held = await NativeClient.connect(server, "holder", local_addr="127.0.0.20")
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="wirechat.server"):
            for _ in range(50):
                reader, writer = await _raw(server, "127.0.0.20")
                assert (await _refusal(reader)).endswith(b"(too_many_connections)\n")
                writer.close()
            refusals = [r.getMessage() for r in caplog.records if "refuse" in r.getMessage()]
            assert refusals == [
                "refuse 127.0.0.20 reason=too_many_connections: "
                "too many connections from your address (at most 1 at once)"
            ]
            # When the interval is over, the other 49 are one line, with the address.
            server.refusals.report(server.loop.time() + REPORT_EVERY)
            last = caplog.records[-1].getMessage()
            assert last.startswith("refuse 127.0.0.20: 49 more refused connections in the last")
            assert last.endswith("(too_many_connections x49)")
        await held.close()


async def _session_of(server: ChatServer, name: str, local: str, token: str | None = None) -> str:
    """Register ``name`` from ``local`` (resuming ``token``), leave, and return the session."""
    client = await NativeClient.connect(server, None, local_addr=local)
    await client.send(Hello(name=name, session=token))
    welcome = await client.expect(Welcome)
    await client.close()
    await eventually(lambda: name not in server.core.users())  # its session is dormant now
    assert welcome.session is not None
    return welcome.session


async def test_throwaway_registrations_evict_their_own_address_sessions_not_others() -> None:
    async with running_server(
        max_sessions=5, max_sessions_per_ip=3, connect_rate_per_ip=1000
    ) as server:
        victim = await _session_of(server, "victim", "127.0.0.30")
        spray = [await _session_of(server, f"spray{i}", "127.0.0.31") for i in range(10)]
        # The victim's session outlived ten throwaway ones: it still resumes...
        assert await _session_of(server, "victim", "127.0.0.30", victim) == victim
        # ...while the sprayer kept only its own newest three.
        assert await _session_of(server, "spray9", "127.0.0.31", spray[9]) == spray[9]
        assert await _session_of(server, "spray0", "127.0.0.31", spray[0]) != spray[0]


async def test_loopback_is_limited_too_once_exempt_addresses_is_empty() -> None:
    async with running_server(max_connections_per_ip=1, exempt_addresses="") as server:
        held = await NativeClient.connect(server, "held")
        reader, writer = await _raw(server, "127.0.0.1")
        assert (await _refusal(reader)).endswith(b"(too_many_connections)\n")
        writer.close()
        await held.close()


async def _join(client: NativeClient, room: str) -> RoomInfo | Error:
    await client.send(Join(room=room))
    while True:  # skip what else arrives (others' joins), up to the answer
        frame = await client.recv()
        if isinstance(frame, (RoomInfo, Error)):
            return frame


async def test_rooms_are_shared_per_address_so_a_few_cannot_take_them_all() -> None:
    async with running_server(max_rooms_per_ip=3, max_rooms=100) as server:
        hoarder = await NativeClient.connect(server, "hoarder", local_addr="127.0.0.40")
        for index in range(3):
            assert isinstance(await _join(hoarder, f"#h{index}"), RoomInfo)
        refused = await _join(hoarder, "#h3")
        assert isinstance(refused, Error)
        assert refused.code == ErrorCode.TOO_MANY_ROOMS
        assert "from your address" in refused.detail
        # Another address makes rooms as before, and the hoarder may still join them.
        other = await NativeClient.connect(server, "other", local_addr="127.0.0.41")
        assert isinstance(await _join(other, "#o0"), RoomInfo)
        assert isinstance(await _join(hoarder, "#o0"), RoomInfo)
        # A room that empties gives its address's share back.
        await hoarder.send(Part(room="#h0"))
        assert isinstance(await _join(hoarder, "#h3"), RoomInfo)
        await hoarder.close()
        await other.close()
