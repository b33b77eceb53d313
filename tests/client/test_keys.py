"""Keys irssi and WeeChat users already know (issue 11, item 4)."""

from __future__ import annotations

from typing import Any

from textual.command import CommandPalette
from textual.pilot import Pilot
from textual.widgets import Footer

from tests.support.app import (
    app_for,
    chat_of,
    current_name,
    in_chat,
    log_shows,
    log_text,
    submit,
    until,
)
from tests.support.net import NativeClient
from wirechat_client.app import WirechatApp
from wirechat_client.screens.confirm import Confirm
from wirechat_common import Join, Say
from wirechat_server.server import ChatServer


async def _join(pilot: Pilot[Any], app: WirechatApp, *rooms: str) -> None:
    for room in rooms:
        await submit(pilot, app, f"/join {room}")
        await until(pilot, lambda: current_name(app) == room)  # noqa: B023 - awaited at once


async def test_alt_digits_ctrl_p_and_ctrl_n_pick_conversations(server: ChatServer) -> None:
    app = app_for(server, "alice")
    async with app.run_test(size=(100, 30)) as pilot:
        await in_chat(pilot, app)
        await _join(pilot, app, "#b", "#c")  # listed: #b, #c, #lobby
        await pilot.press("alt+1")
        assert current_name(app) == "#b"
        await pilot.press("alt+3")
        assert current_name(app) == "#lobby"
        await pilot.press("alt+9")  # no ninth: nothing moves, nothing is typed
        assert current_name(app) == "#lobby"
        await pilot.press("ctrl+p")
        assert current_name(app) == "#c"
        await pilot.press("ctrl+n", "ctrl+n")
        assert current_name(app) == "#b"
        assert chat_of(app).chat_input.value == ""
        assert not isinstance(app.screen, CommandPalette)
        await pilot.press("f4")
        await until(pilot, lambda: isinstance(app.screen, CommandPalette))


async def test_alt_a_goes_to_unread_messages_mentions_first(server: ChatServer) -> None:
    bob = await NativeClient.connect(server, "bob")
    await bob.send(Join(room="#b"), Join(room="#c"))
    app = app_for(server, "alice")
    async with app.run_test(size=(100, 30)) as pilot:
        await in_chat(pilot, app)
        await _join(pilot, app, "#b", "#c")
        await pilot.press("alt+3")  # #lobby
        await bob.send(Say(text="in b", room="#b"), Say(text="alice: in c", room="#c"))
        chat = chat_of(app)
        await until(pilot, lambda: chat.conversations.room("#c").mentioned)
        await until(pilot, lambda: chat.conversations.room("#b").unread == 1)
        await pilot.press("alt+a")
        assert current_name(app) == "#c"
        await pilot.press("alt+a")
        assert current_name(app) == "#b"
        await pilot.press("alt+a")  # all read
        assert current_name(app) == "#b"
    await bob.close()


async def test_ctrl_l_keeps_the_log_and_the_footer_says_alt(server: ChatServer) -> None:
    app = app_for(server, "alice")
    async with app.run_test(size=(120, 30)) as pilot:
        await in_chat(pilot, app)
        await log_shows(pilot, app, "Connected to")
        await pilot.press("ctrl+l")
        await pilot.pause()
        assert "Connected to" in log_text(app)
        footer = app.screen.query_one(Footer)
        shown = " ".join(str(key.render()) for key in footer.query("FooterKey"))
        assert "Alt+↑" in shown
        assert "⌥" not in shown
        assert "Users" in shown
        assert "Rooms" in shown


async def test_bye_asks_before_leaving(server: ChatServer) -> None:
    app = app_for(server, "alice")
    async with app.run_test(size=(100, 30)) as pilot:
        chat = await in_chat(pilot, app)
        await submit(pilot, app, "bye")
        await until(pilot, lambda: isinstance(app.screen, Confirm))
        await pilot.press("n")
        await until(pilot, lambda: app.screen is chat)
        assert app.is_running
        await submit(pilot, app, "bye")
        await until(pilot, lambda: isinstance(app.screen, Confirm))
        await pilot.press("y")
        await until(pilot, lambda: not app.is_running)
