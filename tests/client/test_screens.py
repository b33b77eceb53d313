"""Screen behaviour that needs no real server: scrolling, layout, themes, days, failures."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

from textual.widget import Widget

from tests.support.app import (
    FIXED_MS,
    ScriptedConnection,
    app_for,
    in_chat,
    log_shows,
    log_text,
    until,
    welcome_script,
)
from wirechat_client.address import Address
from wirechat_client.events import NetEvent
from wirechat_common import Message

ADDRESS = Address("chat.example", 5001)
HOUR = 3_600_000


def chatter(first: int, count: int, ts: int = FIXED_MS) -> list[NetEvent]:
    return [
        Message(id=n, ts=ts, sender="bob", text=f"line {n}") for n in range(first, first + count)
    ]


async def test_scrolling_up_shows_an_unread_marker_and_does_not_jump() -> None:
    peer = ScriptedConnection([welcome_script("alice", ["alice", "bob"]), chatter(0, 60)])
    app = app_for(ADDRESS, "alice", connect=peer.factory)
    async with app.run_test(size=(80, 24)) as pilot:
        chat = await in_chat(pilot, app)
        log = chat.chat_log
        await log_shows(pilot, app, "line 59")
        await pilot.press("pageup", "pageup")
        await until(pilot, lambda: not log.following)
        top = log.render_line(0).text
        peer.push(chatter(60, 5))
        await until(pilot, lambda: log.unread == 5)
        assert chat.unread_badge.display
        assert "5 new lines" in str(chat.unread_badge.render())
        assert log.render_line(0).text == top
        await pilot.press("ctrl+end")
        await until(pilot, lambda: log.following and not chat.unread_badge.display)
        assert "line 64" in log.render_line(log.size.height - 1).text
        # Paging back down to the bottom also resumes following.
        await pilot.press("pageup")
        peer.push(chatter(65, 1))
        await until(pilot, lambda: log.unread == 1)
        for _ in range(5):
            await pilot.press("pagedown")
        await until(pilot, lambda: log.following and log.unread == 0)


def shown(widget: Widget) -> bool:
    return widget.display


async def test_a_narrow_terminal_hides_the_user_list_until_asked() -> None:
    peer = ScriptedConnection([welcome_script("alice", ["alice", "bob"])])
    app = app_for(ADDRESS, "alice", connect=peer.factory)
    async with app.run_test(size=(50, 20)) as pilot:
        chat = await in_chat(pilot, app)
        await pilot.pause()
        assert not shown(chat.user_list)
        await pilot.press("f2")
        assert shown(chat.user_list)
        await pilot.resize_terminal(100, 20)
        await pilot.press("f2")
        assert not shown(chat.user_list)


async def test_themes_switch_and_are_remembered(tmp_path: Path) -> None:
    peer = ScriptedConnection([welcome_script("alice", ["alice", "bob"]), chatter(0, 3)])
    app = app_for(ADDRESS, "alice", connect=peer.factory, prefs_dir=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        chat = await in_chat(pilot, app)
        await log_shows(pilot, app, "line 2")
        before = chat.chat_log.render_line(0)
        app.theme = "textual-light"
        await pilot.pause()
        after = chat.chat_log.render_line(0)
        assert before.text == after.text
        assert [s.style for s in before] != [s.style for s in after]
    assert json.loads((tmp_path / "client.json").read_text())["theme"] == "textual-light"
    again = app_for(None, connect_now=False, prefs_dir=tmp_path)
    async with again.run_test(size=(80, 24)):
        assert again.theme == "textual-light"


async def test_a_new_day_is_announced() -> None:
    late = FIXED_MS + 11 * HOUR  # 23:34 UTC
    script = [
        welcome_script("alice", ["alice", "bob"]),
        chatter(0, 1, ts=late),
        chatter(1, 1, ts=late + HOUR),  # 00:34 the next day
    ]
    peer = ScriptedConnection(script)
    app = app_for(ADDRESS, "alice", connect=peer.factory)
    async with app.run_test(size=(100, 24)) as pilot:
        await in_chat(pilot, app)
        await log_shows(pilot, app, "line 1")
        text = log_text(app)
        assert "Day changed to Friday 3 January 2025" in text
        assert text.index("line 0") < text.index("Day changed") < text.index("line 1")


class BrokenConnection(ScriptedConnection):
    async def updates(self) -> AsyncIterator[list[NetEvent]]:
        yield welcome_script("alice", ["alice"])
        raise RuntimeError("boom")


async def test_a_failing_network_task_is_reported_not_fatal() -> None:
    peer = BrokenConnection()
    app = app_for(ADDRESS, "alice", connect=peer.factory)
    async with app.run_test(size=(120, 24)) as pilot:
        await in_chat(pilot, app)
        await log_shows(pilot, app, "The network task failed: RuntimeError('boom')")
        assert app.is_running
