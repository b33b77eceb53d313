"""The real client in a real terminal (tmux) against a real server: what only a terminal shows.
Skipped when tmux is not installed."""

from __future__ import annotations

from pathlib import Path

from rich.cells import cell_len

from tests.support.net import NativeClient
from tests.support.terminal import (
    START_TIMEOUT,
    client_command,
    client_environ,
    drawn_width,
    terminal,
)
from wirechat_client.lines import terminal_safe
from wirechat_common import Joined, Message, Say
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


#: Clusters whose width tmux and Rich disagree on: skin tones, variation selectors, emoji
#: joined by ZWJ, a keycap; and a flag and a Devanagari conjunct, which they agree on.
CLUSTERS = "wave 👋🏽 ok 👍🏿 heart ❤️ dev 👩🏽\u200d💻 flag 🏳️\u200d🌈 key 1️⃣ fr 🇫🇷 क्\u200dष end"


async def test_wide_clusters_do_not_move_the_borders(server: ChatServer, config_home: Path) -> None:
    bob = await NativeClient.connect(server, "bob")
    port = server.address[1]
    async with terminal(client_command(port, "alice"), environ=client_environ(config_home)) as term:
        await term.shows("● online", START_TIMEOUT)
        await term.send_keys("F2")  # the user list, whose right border ends every row
        await term.shows("2 users")
        await bob.send(Say(text=CLUSTERS))
        screen = await term.shows(" end")
    await bob.close()
    rows = [row.rstrip() for row in screen.splitlines() if row.rstrip().endswith("│")]
    assert sum("wave" in row or " end" in row for row in rows) == 2, screen
    # The user list (16 cells of ASCII) closes every row; what is left of it must be as wide
    # in the terminal on every row, or the list's left border has moved.
    assert all(row[-16] in "│╭╰" for row in rows), screen
    assert len({await drawn_width(row[:-16]) for row in rows}) == 1, screen


async def test_what_the_log_draws_is_as_wide_in_tmux_as_rich_counts() -> None:
    for cluster in CLUSTERS.split():
        safe = terminal_safe(cluster)
        assert cell_len(safe) == await drawn_width(safe), (cluster, safe)
