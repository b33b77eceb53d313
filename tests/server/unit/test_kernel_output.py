"""What the kernel holds of a connection's output, read off real loopback sockets."""

from __future__ import annotations

import asyncio

from tests.support.net import eventually
from wirechat_server.transports.kernel import kernel_output


async def test_unread_output_is_held_by_the_kernel_and_counted_once_read() -> None:
    accepted: asyncio.Future[asyncio.StreamWriter] = asyncio.get_running_loop().create_future()

    async def on_connect(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.set_result(writer)

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    reader, client = await asyncio.open_connection(*server.sockets[0].getsockname()[:2])
    sender = await accepted
    start = kernel_output(sender.transport)
    assert start is not None
    assert start[0] == 0

    client.transport.pause_reading()  # type: ignore[attr-defined]  # the peer stops reading
    sender.write(b"x" * 500_000)  # more than the peer's receive buffer takes
    await eventually(lambda: (kernel_output(sender.transport) or (0, 0))[0] > 0)
    held = kernel_output(sender.transport)
    assert held is not None
    assert held[1] - start[1] < 500_000  # not all of it acknowledged

    client.transport.resume_reading()  # type: ignore[attr-defined]
    assert len(await reader.readexactly(500_000)) == 500_000
    await eventually(lambda: kernel_output(sender.transport) == (0, start[1] + 500_000))

    client.close()
    sender.close()
    await sender.wait_closed()
    assert kernel_output(sender.transport) is None  # closed: nothing to ask
    server.close()
    await server.wait_closed()
