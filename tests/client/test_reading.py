"""Reading aids: the read marker, the smart filter, search, date lines."""

from __future__ import annotations

from datetime import UTC
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
    submit,
    until,
    welcome_script,
)
from tests.support.net import NativeClient, abort_writer
from wirechat_client.address import Address
from wirechat_client.app import WirechatApp
from wirechat_client.config import ClientConfig
from wirechat_client.conversation import Conversation, Kind
from wirechat_client.lines import LineKind
from wirechat_common import Message, RoomInfo, Say
from wirechat_server.server import ChatServer

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


# -- the smart filter -------------------------------------------------------------------------


async def test_joins_and_leaves_show_only_for_people_who_spoke_lately(server: ChatServer) -> None:
    app = app_for(server, "alice")
    async with app.run_test(size=(100, 30)) as pilot:
        await in_chat(pilot, app)
        bob = await NativeClient.connect(server, "bob")  # says nothing
        await bob.close()
        carol = await NativeClient.connect(server, "carol")
        await carol.send(Say(text="hi all"))
        await log_shows(pilot, app, "hi all")
        await carol.close()
        await log_shows(pilot, app, "carol left")
        text = log_text(app)
        assert "bob" not in text
        assert "carol joined" not in text  # she had not spoken yet


async def test_the_smart_filter_can_be_turned_off(server: ChatServer) -> None:
    app = app_for(server, "alice", config=ClientConfig(smart_filter_minutes=0))
    async with app.run_test(size=(100, 30)) as pilot:
        await in_chat(pilot, app)
        bob = await NativeClient.connect(server, "bob")
        await log_shows(pilot, app, "bob joined")
        await bob.close()
        await log_shows(pilot, app, "bob left")


async def test_a_burst_of_reconnects_is_one_line(server: ChatServer) -> None:
    app = app_for(server, "alice")
    names = [f"user{n}" for n in range(4)]
    async with app.run_test(size=(100, 30)) as pilot:
        chat = await in_chat(pilot, app)
        clients = [await NativeClient.connect(server, name) for name in names]
        await clients[0].send(Say(text="before the drop"))  # user0 spoke: its leave shows
        await log_shows(pilot, app, "before the drop")
        for client in clients:
            abort_writer(client.writer)
        await until(pilot, lambda: chat.user_list.names == ["alice"])
        back = [await NativeClient.connect(server, name) for name in names]
        await log_shows(pilot, app, "4 people reconnected")
        rows = log_text(app).splitlines()
        assert sum("reconnected" in row for row in rows) == 1
        assert not any(" joined" in row for row in rows)
        assert sum("left" in row for row in rows) == 1  # user0's, who had spoken
        for client in back:
            await client.close()


def test_after_a_server_restart_everyone_coming_back_is_one_line() -> None:
    names = [f"user{n}" for n in range(12)]
    conversation = Conversation(
        "#lobby", "#lobby", Kind.ROOM, lambda: FIXED_MS, UTC, "%H:%M", 600_000
    )
    conversation.set_users(["alice", *names])
    conversation.mark_gap()  # the server went away, and everyone with it
    conversation.close_gap()
    for n, name in enumerate(names):
        ts = FIXED_MS + 2_000 + n * 500
        conversation.presence.line(LineKind.JOIN, "joined", name, ts, keep=False)
    lines = [e for e in conversation.log.entries if e.kind is LineKind.JOIN]
    assert [(e.nick, e.text) for e in lines] == [("", "12 people reconnected")]
    later = FIXED_MS + 3_600_000  # an hour on, a join is a join again (and filtered)
    conversation.presence.line(LineKind.JOIN, "joined", "zed", later, keep=False)
    assert len([e for e in conversation.log.entries if e.kind is LineKind.JOIN]) == 1


# -- search -----------------------------------------------------------------------------------


def found_rows(app: WirechatApp) -> list[str]:
    """The rows on screen with a highlighted match in them."""
    log = chat_of(app).chat_log
    rows = []
    for y in range(log.scrollable_content_region.height):
        strip = log.render_line(y)
        if any(s.style is not None and s.style.bold and s.style.bgcolor for s in strip):
            rows.append(strip.text)
    return rows


async def test_search_jumps_to_the_newest_match_then_older_ones_and_says_when_none() -> None:
    lines = [said(n, f"line {n}" + (" deploy done" if n in (5, 40) else "")) for n in range(1, 61)]
    peer = ScriptedConnection([welcome_script("alice", ["alice", "bob"]), lines])
    app = app_for(ADDRESS, "alice", connect=peer.factory)
    async with app.run_test(size=(100, 30)) as pilot:
        chat = await in_chat(pilot, app)
        await log_shows(pilot, app, "line 60")
        await submit(pilot, app, "/search DEPLOY")
        await until(pilot, lambda: any("line 40 deploy" in row for row in found_rows(app)))
        assert not chat.chat_log.following
        await pilot.press("ctrl+r")
        await until(pilot, lambda: any("line 5 deploy" in row for row in found_rows(app)))
        assert chat.finding is not None
        assert chat.finding.status() == "Match 1 of 2 for 'DEPLOY' (Ctrl+R: older)."
        await submit(pilot, app, "/search rollback")
        assert chat.finding is not None
        assert chat.finding.status() == "No match for 'rollback' in this conversation."
        assert not found_rows(app)


async def test_ctrl_r_starts_a_search_that_follows_the_typing() -> None:
    lines = [said(n, f"line {n}") for n in range(1, 61)]
    peer = ScriptedConnection([welcome_script("alice", ["alice", "bob"]), lines])
    app = app_for(ADDRESS, "alice", connect=peer.factory)
    async with app.run_test(size=(100, 30)) as pilot:
        chat = await in_chat(pilot, app)
        await log_shows(pilot, app, "line 60")
        await pilot.press("ctrl+r")
        assert chat.chat_input.value == "/search "
        await pilot.press(*"line 7")
        await until(pilot, lambda: any("line 7" in row for row in found_rows(app)))
        assert peer.said == []  # searching sends nothing
