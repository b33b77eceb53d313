"""Several listeners: the ``listen`` setting, what each listener serves, one shutdown for all."""

from __future__ import annotations

import asyncio

import pytest

from tests.support.net import WAIT, PlainClient, open_socket, running_server
from tests.support.rooms import Chat
from wirechat_common import Message
from wirechat_server.cli import main
from wirechat_server.config import ServerConfig
from wirechat_server.listeners import ListenerSpec, parse_listeners


@pytest.mark.parametrize(
    ("text", "specs"),
    [
        ("", []),
        ("127.0.0.1:6000", [ListenerSpec("127.0.0.1", 6000)]),
        (
            " 0.0.0.0:5001 , [::1]:5002=native+plain ",
            [
                ListenerSpec("0.0.0.0", 5001),
                ListenerSpec("::1", 5002, frozenset({"native", "plain"})),
            ],
        ),
        ("localhost:0=plain", [ListenerSpec("localhost", 0, frozenset({"plain"}))]),
    ],
)
def test_listen_entries_are_read(text: str, specs: list[ListenerSpec]) -> None:
    assert parse_listeners(text) == specs


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("5001", "expected HOST:PORT"),
        ("::1:5001", "expected HOST:PORT"),
        ("[::1]5001", "[ADDR]:PORT"),
        ("host:port", "the port must be a number"),
        ("host:70000", "0 to 65535"),
        (":5001", "0 to 65535"),
        ("host:5001=", "no dialect"),
    ],
)
def test_a_listen_entry_that_cannot_be_read_is_refused(text: str, complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint.replace("[", r"\[")):
        ServerConfig(listen=text)


def test_the_spec_prints_as_it_is_written() -> None:
    assert (
        str(ListenerSpec("::1", 5002, frozenset({"plain", "native"}))) == "[::1]:5002=native+plain"
    )


@pytest.mark.parametrize(
    ("argv", "complaint"),
    [
        (["--listen", "127.0.0.1:6000=irc"], "no dialect called irc"),
        (["--listen", "nonsense"], "expected HOST:PORT"),
    ],
)
def test_the_command_refuses_a_bad_listener_before_starting(
    argv: list[str], complaint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    assert complaint in capsys.readouterr().err


async def test_every_listener_serves_the_same_chat_and_a_restricted_one_refuses_the_rest() -> None:
    async with running_server(listen="127.0.0.2:0=plain,127.0.0.3:0") as server:
        main_address, plain_only, extra = server.addresses
        assert (main_address[0], plain_only[0], extra[0]) == ("127.0.0.1", "127.0.0.2", "127.0.0.3")

        ash = await PlainClient.connect(plain_only, "ash")
        bo = await Chat.hello(extra, "bo")
        cy = await Chat.hello(main_address, "cy")
        assert server.core.users() == ["ash", "bo", "cy"]
        await ash.send_line("hello from the plain-only port")
        for listener in (bo, cy):
            heard = await listener.answer(Message)
            assert isinstance(heard, Message)
            assert (heard.sender, heard.text) == ("ash", "hello from the plain-only port")

        reader, writer = await open_socket(plain_only)
        writer.write(b'{"type":"hello","name":"dee"}\n')
        async with asyncio.timeout(WAIT):
            refusal = await reader.read()
        assert refusal == (
            b"error: this port serves plain only, not native (unsupported_protocol)\n"
        )
        writer.close()
        assert server.core.users() == ["ash", "bo", "cy"]
        for client in (bo, cy):
            await client.close()
        await ash.close()
        addresses = server.addresses

    for address in addresses:  # one shutdown closed every listener
        with pytest.raises(ConnectionRefusedError):
            await open_socket(address)
