"""History answers count against the output bound (catalogue: history hoarders).

A client that asks for history and reads none of it used to make the server hold every page it
asked for, beyond ``max_output_buffer``: 100 such connections, 225 bytes each (a hello resuming
``#lobby`` from id 1, three ``get_history`` of 200), took a server from 34 to 197 MiB. Now a
page is cut to the room its connection has left and says ``more``; a reader pages on.
"""

from __future__ import annotations

import asyncio
import socket

from tests.support.net import NativeClient, eventually, running_server
from wirechat_common import MAX_FRAME_BYTES, Ack, GetHistory, Hello, History, Say, encode
from wirechat_common.messages import AnyMessage
from wirechat_server.connection import Connection

BOUND = 64 * 1024
TEXT = "x" * 1900  # about 2 KB a message rendered, so 200 of them are 400 KB
STORED = 300
HOARDERS = 20


async def _hoard(address: tuple[str, int], name: str) -> socket.socket:
    """Connect, resume #lobby from its first message and ask three more pages; read nothing."""
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1)  # clamped to the minimum
    sock.setblocking(False)
    await loop.sock_connect(sock, address)
    frames: list[AnyMessage] = [Hello(name=name, rooms={"#lobby": 1})]
    frames += [GetHistory(room="#lobby", limit=200) for _ in range(3)]
    request = b"".join(encode(frame) for frame in frames)
    await loop.sock_sendall(sock, request)
    return sock


async def test_history_hoarders_cost_no_more_than_the_output_bound() -> None:
    async with running_server(
        max_output_buffer=BOUND,
        soft_output_buffer=16 * 1024,
        socket_send_buffer=16 * 1024,
        msg_rate=0,
        max_history=200,
    ) as server:
        writer = await NativeClient.connect(server, "writer")
        for index in range(STORED):
            await writer.send(Say(text=f"{index} {TEXT}", client_id=f"c{index}"))
        await writer.collect(Ack, STORED)
        socks = [await _hoard(server.address, f"hoarder{index}") for index in range(HOARDERS)]

        def hoarders() -> list[Connection]:
            return [c for c in server.connections if (c.name or "").startswith("hoarder")]

        # Each has been answered as far as its bound allows: its unsent output is past the
        # point where the server stops reading its requests.
        await eventually(
            lambda: (
                len(hoarders()) == HOARDERS
                and all(connection.output_room() < BOUND - 16 * 1024 for connection in hoarders())
            )
        )
        # What each holds, the kernel's part included, is within the bound but for the
        # overshoot a page may make (at least one message each); past a frame's worth more,
        # a client is cut as too slow.
        for connection in hoarders():
            assert connection.output_room() > -MAX_FRAME_BYTES, connection.output_room()

        # A reader of the same history gets all of it, page by page, as `more` tells it.
        reader = await NativeClient.connect(server, "reader")
        seen: list[int] = []
        before = None
        while True:
            await reader.send(GetHistory(room="#lobby", before=before, limit=200))
            page = await reader.expect(History)
            seen = [message.id for message in page.messages] + seen
            if not page.more:
                break
            before = page.messages[0].id
        assert len(seen) == STORED
        assert seen == sorted(seen)
        for sock in socks:
            sock.close()
