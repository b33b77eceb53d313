"""TCP options of accepted connections: set once on the listening socket and inherited."""

from __future__ import annotations

import socket

import pytest

from tests.support.net import NativeClient, PlainClient, running_server


@pytest.mark.skipif(not hasattr(socket, "TCP_KEEPIDLE"), reason="needs Linux keepalive options")
@pytest.mark.parametrize("plain", [False, True], ids=["native", "plain"])
async def test_accepted_connections_have_nodelay_and_the_keepalive_settings(plain: bool) -> None:
    async with running_server(keepalive_idle=42, keepalive_interval=7, keepalive_count=3) as server:
        if plain:
            client: NativeClient | PlainClient = await PlainClient.connect(server, "alice")
        else:
            client = await NativeClient.connect(server, "alice")
        (connection,) = server.connections
        assert connection.transport is not None
        sock = connection.transport.get_extra_info("socket")
        # Set by the event loop itself (asyncio and uvloop alike), not by tune_listener.
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
        # Not the kernel's defaults (7200 s, 75 s, 9): the server's settings.
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE) == 42
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL) == 7
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT) == 3
        await client.close()
