"""Reading aids: the read marker, the smart filter, search, date lines."""

from __future__ import annotations

from typing import Any

from textual.events import AppBlur, AppFocus
from textual.pilot import Pilot

from tests.support.app import (
    FIXED_MS,
    ScriptedConnection,
    app_for,
    chat_of,
    in_chat,
    log_shows,
    log_text,
    until,
    welcome_script,
)
from wirechat_client.address import Address
from wirechat_client.app import WirechatApp
from wirechat_client.lines import LineKind
from wirechat_common import Message, RoomInfo

ADDRESS = Address("chat.example", 5001)
MARKER = "─" * 20


def said(n: int, text: str, room: str = "#lobby", sender: str = "bob") -> Message:
    return Message(id=n, ts=FIXED_MS + n * 1000, sender=sender, text=text, room=room)


def two_rooms() -> tuple[WirechatApp, ScriptedConnection]:
    users = ["alice", "bob"]
    peer = ScriptedConnection(
        [
            welcome_script("alice", users),
            [RoomInfo(room="#lobby", users=users), RoomInfo(room="#dev", users=users)],
            [said(1, "first"), said(2, "second")],
        ]
    )
    return app_for(ADDRESS, "alice", connect=peer.factory), peer


def around_marker(app: WirechatApp) -> tuple[str, str]:
    """The texts of the messages just above and below the read marker, which is drawn."""
    rows = log_text(app).splitlines()
    assert sum(row.startswith(MARKER) for row in rows) == 1
    at = next(i for i, row in enumerate(rows) if row.startswith(MARKER))
    return rows[at - 1].split("│ ")[-1].strip(), rows[at + 1].split("│ ")[-1].strip()


async def show(pilot: Pilot[Any], app: WirechatApp, room: str) -> None:
    """Pick ``room`` with its Alt+N key."""
    chat = chat_of(app)
    number = [item.name for item in chat.room_list.items].index(room) + 1
    await pilot.press(f"alt+{number}")
    await until(pilot, lambda: chat.current.name == room)


async def test_the_read_marker_sits_above_what_came_while_away_and_moves_on() -> None:
    app, peer = two_rooms()
    async with app.run_test(size=(100, 30)) as pilot:
        chat = await in_chat(pilot, app)
        await log_shows(pilot, app, "second")
        assert MARKER not in log_text(app)  # nothing was missed yet
        await show(pilot, app, "#dev")
        peer.push([said(3, "third"), said(4, "fourth")])
        await until(pilot, lambda: chat.conversations.room("#lobby").unread == 2)
        await show(pilot, app, "#lobby")
        assert around_marker(app) == ("second", "third")
        peer.push([said(5, "fifth")])  # read as it comes: the marker stays
        await log_shows(pilot, app, "fifth")
        assert around_marker(app)[1] == "third"
        await show(pilot, app, "#dev")
        peer.push([said(6, "sixth")])
        await until(pilot, lambda: chat.conversations.room("#lobby").unread == 1)
        await show(pilot, app, "#lobby")
        assert around_marker(app) == ("fifth", "sixth")
        markers = [e for e in chat.current.log.entries if e.kind is LineKind.MARKER]
        assert len(markers) == 1


async def test_what_arrives_while_the_terminal_is_unfocused_goes_under_the_marker() -> None:
    app, peer = two_rooms()
    async with app.run_test(size=(100, 30)) as pilot:
        await in_chat(pilot, app)
        await log_shows(pilot, app, "second")
        app.post_message(AppBlur())
        await until(pilot, lambda: not app.app_focus)
        peer.push([said(3, "third")])
        await log_shows(pilot, app, "third")
        assert around_marker(app) == ("second", "third")
        app.post_message(AppFocus())
        await until(pilot, lambda: app.app_focus)
        peer.push([said(4, "fourth")])
        await log_shows(pilot, app, "fourth")
        assert around_marker(app)[1] == "third"  # read as it came: no move
