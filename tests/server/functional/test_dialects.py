"""Dialect detection over real sockets: real TLS and HTTP clients, IRC openings, and the plain
names that look like them (docs/protocol.md, "Dialects")."""

from __future__ import annotations

import asyncio
import ssl
import urllib.error
import urllib.request

import pytest

from tests.support.net import WAIT, PlainClient, open_socket, running_server
from tests.support.rooms import Chat
from wirechat_common import Message
from wirechat_server.server import ChatServer


async def read_to_end(reader: asyncio.StreamReader) -> bytes:
    async with asyncio.timeout(WAIT):
        return await reader.read()


async def test_a_tls_client_is_refused_with_a_handshake_failure(server: ChatServer) -> None:
    """A real TLS client (Python's ssl) gets an alert it can report, not silence or a name."""
    context = ssl.create_default_context()
    host, port = server.address
    with pytest.raises(ssl.SSLError, match="HANDSHAKE_FAILURE"):
        async with asyncio.timeout(WAIT):
            await asyncio.open_connection(host, port, ssl=context, server_hostname="localhost")
    assert server.core.users() == []


async def test_an_http_client_gets_a_400_that_says_what_this_is(server: ChatServer) -> None:
    host, port = server.address

    def fetch() -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"http://{host}:{port}/", timeout=WAIT) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    status, body = await asyncio.to_thread(fetch)
    assert status == 400
    assert "wirechat" in body
    assert "does not speak HTTP" in body
    assert server.core.users() == []


@pytest.mark.parametrize(
    "opening",
    [
        [b"CAP LS 302\r\n", b"NICK alice\r\nUSER alice 0 * :Alice\r\n"],
        [b"NICK alice\r\nUSER alice 0 * :Alice\r\n"],
        [b"nick alice\r\n"],
        [b"NI", b"CK alice\r\n"],  # split by the network: detection waits for the word
    ],
    ids=["cap-first", "nick-first", "lower-case", "split"],
)
async def test_an_irc_client_gets_an_error_line_and_nobody_hears_of_it(
    opening: list[bytes],
) -> None:
    async with running_server(plain_name_wait=5.0) as server:
        witness = await Chat.hello(server, "witness")
        await witness.drain()
        reader, writer = await open_socket(server, nodelay=True)
        for chunk in opening:
            writer.write(chunk)
            await writer.drain()
            await asyncio.sleep(0.05)  # let each chunk arrive on its own
        received = await read_to_end(reader)
        assert received.startswith(b"ERROR :this is a wirechat chat server")
        assert received.endswith(
            b"does not speak IRC on this port. Connect with the wirechat client, "
            b"or with nc or telnet as a plain-text user.\r\n"
        )
        assert received.count(b"\r\n") == 1
        writer.close()
        assert await witness.drain() == []  # no join, no leave: it never was a user
        assert server.core.users() == ["witness"]
        await witness.close()


@pytest.mark.parametrize("name", ["NICK", "USER", "CAP", "GET", "Nickolas"])
async def test_a_plain_user_may_be_named_like_an_opening_word(
    server: ChatServer, name: str
) -> None:
    client = await PlainClient.connect(server, name)
    assert server.core.users() == [name]
    watcher = await Chat.hello(server, "watcher")
    for line in ("GET / HTTP/1.1", "NICK other"):  # after the name, every line is chat
        await client.send_line(line)
    messages = await watcher.collect(Message, 2)
    assert [(m.sender, m.text) for m in messages] == [
        (name, "GET / HTTP/1.1"),
        (name, "NICK other"),
    ]
    await client.send_line("bye")
    await client.expect_closed()
    await watcher.close()


async def test_the_lab_client_named_like_the_start_of_an_opening_word_gets_in() -> None:
    """A name with no newline that could be the start of ``USER`` waits for more; when nothing
    more comes, it is the name."""
    async with running_server(plain_name_wait=0.2) as server:
        client = await PlainClient.connect(server, "US", newline=False)
        assert server.core.users() == ["US"]
        await client.close()
