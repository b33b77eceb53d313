"""Notifications: the bell and desktop notifications on a mention or a direct message, the
unread count in the terminal's title, and the hotlist in the status bar.

The bell, the title and notifications are bytes the terminal gets: the real client runs in
tmux, which records what it writes and keeps the title it sets. The hotlist is on the screen:
a Pilot reads it.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from pathlib import Path

from tests.support.app import app_for, in_chat, submit, until
from tests.support.net import NativeClient
from tests.support.terminal import (
    START_TIMEOUT,
    Terminal,
    client_command,
    client_environ,
    terminal,
)
from wirechat_client.config import ClientConfig
from wirechat_common import Join, Joined, Say
from wirechat_server.server import ChatServer

# OSC sequences end with BEL too: what is left once they are taken out are bells.
_OSC = re.compile(rb"\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)")


def bells(data: bytes) -> int:
    return _OSC.sub(b"", data).count(b"\x07")


@contextlib.asynccontextmanager
async def alice_in_tmux(
    server: ChatServer, home: Path, settings: str
) -> AsyncIterator[tuple[Terminal, NativeClient, str]]:
    """Alice's client in tmux with ``settings`` in its file, recording what it writes to the
    terminal; bob beside her; and the title she starts with."""
    (home / "config" / "wirechat").mkdir(parents=True)
    (home / "config" / "wirechat" / "config.toml").write_text(settings)
    bob = await NativeClient.connect(server, "bob")
    port = server.address[1]
    command = client_command(port, "alice")
    async with terminal(command, environ=client_environ(home / "config")) as term:
        await bob.expect(Joined, timeout=START_TIMEOUT)
        await term.shows("● online")
        await term.record(home / "written.bin")
        yield term, bob, f"wirechat: alice @ 127.0.0.1:{port}"
    await bob.close()


async def test_a_mention_and_a_direct_message_ring_notify_and_count_in_the_title(
    server: ChatServer, tmp_path: Path
) -> None:
    async with alice_in_tmux(server, tmp_path, 'desktop-notify = "osc9"\n') as (term, bob, me):
        await term.title_is(me)
        await bob.send(Say(text="nothing for her"), Say(text="alice: ping"))
        data = await term.written(b"\x1b]9;<bob> #lobby: alice: ping\x07")
        assert bells(data) == 1  # the mention, not the line before it
        await bob.send(Say(text="psst", to="alice"))
        data = await term.written(b"\x1b]9;<bob> psst\x07")
        assert bells(data) == 2
        await term.title_is(f"(1!) {me}")  # bob's conversation is not the one shown
        assert await term.query("#{window_bell_flag}") == "1"
        await term.shows("[2:bob(1)!]")
        await term.send_keys("M-2")  # read it: the count goes
        await term.title_is(me)


async def test_bell_false_keeps_quiet_and_notifications_are_off_by_default(
    server: ChatServer, tmp_path: Path
) -> None:
    async with alice_in_tmux(server, tmp_path, "bell = false\n") as (term, bob, me):
        await bob.send(Say(text="psst", to="alice"), Say(text="alice: ping"))
        await term.title_is(f"(1!) {me}")
        data = await term.written(f"(1!) {me}".encode())
        assert bells(data) == 0
        assert b"\x1b]9;" not in data
        assert b"\x1b]777;" not in data


async def test_the_hotlist_shows_activity_mentions_first(server: ChatServer) -> None:
    bob = await NativeClient.connect(server, "bob")
    await bob.send(Join(room="#dev"))
    app = app_for(server, "alice", config=ClientConfig(bell=False))
    async with app.run_test(size=(120, 30)) as pilot:
        chat = await in_chat(pilot, app)
        await submit(pilot, app, "/join #dev")
        await until(pilot, lambda: chat.current.name == "#dev")
        await pilot.press("alt+1")  # #dev shown: its messages are read as they come
        await bob.send(
            Say(text="one", room="#dev"),
            Say(text="two", room="#lobby"),
            Say(text="three", room="#lobby"),
            Say(text="psst", to="alice"),
        )
        await until(pilot, lambda: len(chat.status_bar.hotlist) == 2)
        bar = str(chat.status_bar.render())
        assert "[3:bob(1)! 2:#lobby(2)]" in bar
        assert "#dev" not in bar
        await pilot.press("alt+3")
        await until(pilot, lambda: "[2:#lobby(2)]" in str(chat.status_bar.render()))
    await bob.close()
