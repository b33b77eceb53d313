"""The real client in a real terminal (tmux) against a real server: what only a terminal shows.
Skipped when tmux is not installed."""

from __future__ import annotations

from pathlib import Path

from tests.support.net import NativeClient
from tests.support.terminal import START_TIMEOUT, client_command, client_environ, terminal
from wirechat_common import Joined, Message
from wirechat_server.server import ChatServer


async def test_keys_sent_in_one_write_make_separate_lines(
    server: ChatServer, config_home: Path
) -> None:
    bob = await NativeClient.connect(server, "bob")
    port = server.address[1]
    async with terminal(client_command(port, "alice"), environ=client_environ(config_home)) as term:
        joined = await bob.expect(Joined, timeout=START_TIMEOUT)
        assert joined.name == "alice"
        await term.shows("● online")
        await term.send_keys("hi bo", "Enter", "second line", "Enter")
        await term.send_keys("last", "Enter")  # anything sent twice would come before it
        received = await bob.collect(Message, 3)
        assert [m.text for m in received] == ["hi bo", "second line", "last"]
    await bob.close()


async def test_alt_digit_picks_a_conversation_instead_of_typing_a_symbol(
    server: ChatServer, config_home: Path
) -> None:
    port = server.address[1]
    async with terminal(client_command(port, "alice"), environ=client_environ(config_home)) as term:
        await term.shows("● online", START_TIMEOUT)
        await term.send_keys("/join #zeta", "Enter")
        await term.shows("#zeta · no topic")
        await term.send_keys("M-1")  # ESC 1: Textual made it "¡"
        await term.shows("#lobby · no topic")
        await term.send_keys("x")
        screen = await term.shows("▊  x")
        assert "¡" not in screen
