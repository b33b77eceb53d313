"""Snapshot tests: the screens as a user sees them, compared with reviewed SVG baselines.

Deterministic by construction: a scripted peer instead of a server, a fixed clock, UTC times,
fixed names, a fixed terminal size. Update the baselines with ``--snapshot-update`` only after
looking at the new images (``snapshot_report.html`` shows the differences).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.pilot import Pilot

from tests.support.app import (
    FIXED_MS,
    ScriptedConnection,
    app_for,
    in_chat,
    until,
    welcome_script,
)
from wirechat_client.address import Address
from wirechat_client.app import WirechatApp
from wirechat_client.events import Connecting, Disconnected, HistoryPage
from wirechat_client.resume import PageKind
from wirechat_common import Joined, Left, Message, RoomInfo, Topic

SnapCompare = Callable[..., bool]
ADDRESS = Address("chat.example", 5001)


def minute(n: int) -> int:
    return FIXED_MS + n * 60_000


def populated_script() -> list[list[Any]]:
    users = ["alice", "bob", "carol", "dave", "eve_from_accounting"]
    return [
        welcome_script("alice", users),
        [
            Message(id=1, ts=minute(1), sender="bob", text="morning all"),
            Message(id=2, ts=minute(1), sender="carol", text="hi bob! did the deploy go out?"),
            Message(id=3, ts=minute(2), sender="bob", text="pours coffee", action=True),
            Message(
                id=4,
                ts=minute(2),
                sender="bob",
                text="it did, but alice should check the dashboard: "
                "latency is up 🚀 on the 日本 cluster",
            ),
            Message(id=5, ts=minute(3), sender="dave", text="train wifi, back soon"),
            # frank never spoke: the smart filter hides his join; dave did: his leave shows.
            Joined(name="frank", ts=minute(3)),
            Message(id=6, ts=minute(3), sender="frank", text="[bold]is this markup?[/] no"),
            Left(name="dave", reason="timeout", ts=minute(4)),
            Message(id=7, ts=minute(4), sender="eve_from_accounting", text="👋"),
        ],
    ]


def chat_app(script: list[list[Any]], theme: str = "") -> WirechatApp:
    peer = ScriptedConnection(script)
    return app_for(ADDRESS, "alice", connect=peer.factory, theme=theme)


def chat_peer(app: WirechatApp) -> ScriptedConnection:
    peer = app.connection
    assert isinstance(peer, ScriptedConnection)
    return peer


async def say_something(pilot: Pilot[Any]) -> None:
    app = pilot.app
    assert isinstance(app, WirechatApp)
    chat = await in_chat(pilot, app)
    await until(pilot, lambda: any(e.text == "👋" for e in chat.chat_log.model.entries))
    await pilot.press(*"on it, thanks bob", "enter")
    await until(pilot, lambda: chat.chat_log.model.entries[-1].ts is not None)  # acknowledged
    await pilot.press(*"/me", "space", "c")


def test_connect_screen(snap_compare: SnapCompare) -> None:
    app = app_for(None, connect_now=False)
    assert snap_compare(app, terminal_size=(80, 24))


def test_connect_screen_name_taken(snap_compare: SnapCompare) -> None:
    refused: list[list[Any]] = [
        [Connecting(ADDRESS, 0)],
        [Disconnected("the name 'alice' is taken", None, "name_taken")],
    ]
    app = chat_app(refused)

    async def refused_shown(pilot: Pilot[Any]) -> None:
        await until(
            pilot, lambda: "taken" in str(app.connect_screen.query_one("#connect-message").render())
        )

    assert snap_compare(app, terminal_size=(80, 24), run_before=refused_shown)


def test_main_screen(snap_compare: SnapCompare) -> None:
    assert snap_compare(
        chat_app(populated_script()), terminal_size=(80, 24), run_before=say_something
    )


def test_main_screen_light_theme(snap_compare: SnapCompare) -> None:
    app = chat_app(populated_script(), theme="textual-light")
    assert snap_compare(app, terminal_size=(80, 24), run_before=say_something)


def test_main_screen_reconnecting(snap_compare: SnapCompare) -> None:
    script: list[list[Any]] = [
        *populated_script(),
        [Disconnected("the server is shutting down", 1.5)],
        [Connecting(ADDRESS, 1)],
    ]

    async def offline(pilot: Pilot[Any]) -> None:
        app = pilot.app
        assert isinstance(app, WirechatApp)
        await until(
            pilot, lambda: app.chat is not None and app.chat.status_bar.detail == "attempt 2"
        )
        await pilot.press(*"still here?")

    assert snap_compare(chat_app(script), terminal_size=(80, 24), run_before=offline)


def test_main_screen_rooms(snap_compare: SnapCompare) -> None:
    users = ["alice", "bob", "carol"]
    dev = [
        Message(id=n, ts=minute(n), sender="carol", text=f"build {n} is green", room="#dev")
        for n in range(1, 4)
    ]
    script: list[list[Any]] = [
        welcome_script("alice", users),
        [
            RoomInfo(room="#lobby", users=users),
            HistoryPage("#lobby", [], False, PageKind.JOIN),
            RoomInfo(room="#dev", users=["alice", "carol"], topic="release 2.1 on Friday"),
            HistoryPage("#dev", dev, True, PageKind.JOIN),
        ],
    ]

    async def busy(pilot: Pilot[Any]) -> None:
        app = pilot.app
        assert isinstance(app, WirechatApp)
        chat = await in_chat(pilot, app)
        await until(pilot, lambda: len(chat.room_list.items) == 2)
        await pilot.press("alt+up")  # to #dev
        await until(pilot, lambda: chat.current.name == "#dev")
        peer = chat_peer(app)
        peer.push(
            [
                Message(id=10, ts=minute(10), sender="bob", text="lunch?", room="#lobby"),
                Message(id=11, ts=minute(11), sender="bob", text="alice: ping", room="#lobby"),
                Message(id=12, ts=minute(12), sender="bob", text="psst", to="alice"),
                Topic(room="#dev", topic="release 2.1 on Friday", by="carol", ts=minute(13)),
            ]
        )
        await until(pilot, lambda: [i.unread for i in chat.room_list.items] == [0, 2, 1])
        # The topic line comes last: on a busy machine it may still be on its way.
        await until(pilot, lambda: any("set the topic" in e.text for e in chat.current.log.entries))

    assert snap_compare(chat_app(script), terminal_size=(80, 24), run_before=busy)
