"""Small things a daily user trips over: a screenshot that cannot be saved, an error too long
for the connect dialog, refusals shown in the right place, /msg to someone who is not there."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.command import CommandList
from textual.widgets import Button, Static

from tests.support.app import (
    app_for,
    cut,
    gate_of,
    gated_connection,
    in_chat,
    listed,
    log_shows,
    submit,
    until,
)
from tests.support.net import NativeClient
from wirechat_client.events import LinkState
from wirechat_client.lines import LineKind, LogEntry
from wirechat_client.outbox import MAX_OUTBOX
from wirechat_client.screens.connect import ConnectScreen
from wirechat_common import MAX_NAME_LENGTH, Message, Say
from wirechat_common.names import NAME_CHARACTERS
from wirechat_server.server import ChatServer

#: As long as a server's reason gets in practice (a refusal with its detail), and more.
LONG_REASON = (
    "Could not connect: the server refused the connection: too many connections from your "
    "address (16 at once; 127.0.0.1 and ::1 are exempt), try again in a minute or ask the "
    "operator of chat.example to raise --max-connections-per-ip (too_many_connections)."
)


@pytest.mark.parametrize(
    "error",
    [f"Name: 1 to {MAX_NAME_LENGTH} characters, only {NAME_CHARACTERS}.", LONG_REASON],
)
async def test_the_connect_dialog_fits_80x24_with_its_longest_error(error: str) -> None:
    app = app_for(None, connect_now=False)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        assert isinstance(screen, ConnectScreen)
        screen.fail(error)
        await pilot.pause()
        message = screen.query_one("#connect-message", Static)
        lines = str(message.render()).splitlines()
        wrapped = message.content_size.height
        assert wrapped >= len(lines)
        assert message.region.bottom <= 23  # above the footer, on the 24-row screen
        assert message.content_region.height == wrapped  # every row shown, none cut
        button = screen.query_one("#connect", Button)
        assert button.region.y >= 0
        assert button.region.height == 3


async def test_a_screenshot_whose_folder_is_missing_says_where_it_tried(
    server: ChatServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "no" / "Downloads"
    monkeypatch.setenv("XDG_DOWNLOAD_DIR", str(missing))
    app = app_for(server, "alice")
    async with app.run_test(size=(120, 30)) as pilot:
        chat = await in_chat(pilot, app)
        await pilot.press("f4", *"screenshot")  # the command palette's entry
        await until(pilot, lambda: app.screen.query_one(CommandList).option_count > 0)
        await pilot.press("enter")
        wanted = f"Could not save the screenshot in {missing}: there is no such folder"
        await until(pilot, lambda: any(wanted in e.text for e in chat.current.log.entries))


async def test_a_line_the_full_outbox_refuses_stands_under_the_lines_before_it(
    server: ChatServer,
) -> None:
    bob = await NativeClient.connect(server, "bob")
    app = app_for(server, "alice", connect=gated_connection)
    async with app.run_test(size=(100, 40)) as pilot:
        chat = await in_chat(pilot, app)
        gate_of(app).clear()
        cut(app)
        await until(pilot, lambda: chat.status_bar.state is LinkState.OFFLINE)
        lines = [f"line {n}" for n in range(1, MAX_OUTBOX + 2)]
        for line in lines:
            await submit(pilot, app, line)

        def own() -> list[LogEntry]:
            return [e for e in chat.current.log.entries if e.own]

        await until(pilot, lambda: len(own()) == len(lines))
        assert [e.text for e in own()] == lines
        assert own()[-1].failure == "still offline, and the outbox is full"
        gate_of(app).set()
        await bob.collect(Message, MAX_OUTBOX)
        await until(pilot, lambda: all(e.id is not None for e in own()[:-1]))
        await bob.send(Say(text="welcome back"))
        await log_shows(pilot, app, "welcome back")
        texts = [e.text for e in chat.current.log.entries if e.kind is LineKind.MESSAGE]
        assert texts[-3:] == [f"line {MAX_OUTBOX}", f"line {MAX_OUTBOX + 1}", "welcome back"]
    await bob.close()


async def test_msg_to_someone_not_connected_says_so_and_opens_nothing(server: ChatServer) -> None:
    bob = await NativeClient.connect(server, "bob")
    app = app_for(server, "alice")
    async with app.run_test(size=(120, 30)) as pilot:
        chat = await in_chat(pilot, app)
        await submit(pilot, app, "/msg carol are you there?")
        await log_shows(pilot, app, "Not sent: carol is not connected (are you there?).")
        assert chat.current.name == "#lobby"
        assert listed(app) == ["#lobby"]
        await submit(pilot, app, "/msg carol")
        await log_shows(pilot, app, "carol is not connected.")
        assert listed(app) == ["#lobby"]
        await submit(pilot, app, "/msg BOB")  # connected: the conversation opens
        await until(pilot, lambda: chat.current.name == "BOB")
        await submit(pilot, app, "/msg dave hi")  # from a direct conversation too
        await log_shows(pilot, app, "Not sent: dave is not connected (hi).")
        assert chat.current.name == "BOB"
        assert listed(app) == ["#lobby", "BOB"]
    await bob.close()
