"""Untrusted text is shown literally: no Rich markup runs, no control character reaches the
terminal, whether it comes through a real server or a hostile one."""

from __future__ import annotations

import re

from rich.segment import Segment

from tests.support.app import (
    EVERY_JOIN,
    app_for,
    chat_of,
    hostile_server,
    in_chat,
    log_shows,
    log_text,
)
from tests.support.net import NativeClient
from wirechat_client.app import WirechatApp
from wirechat_common import (
    AnyMessage,
    Error,
    Joined,
    Message,
    RoomList,
    RoomSummary,
    Say,
    Topic,
    Users,
)
from wirechat_server.server import ChatServer

MARKUP = ["[bold]x[/]", "[@click=app.quit]q[/]", "[link=file:///etc/passwd]x[/link]"]

# C0 and C1 controls, DEL, and the bidi embeddings, overrides and isolates.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def segments_of(app: WirechatApp) -> list[Segment]:
    """Every segment the log would send to the terminal."""
    return [
        segment
        for entry in chat_of(app).chat_log.model.entries
        for row in entry.rows
        for segment in row
    ]


def assert_inert(app: WirechatApp) -> None:
    for segment in segments_of(app):
        assert not _UNSAFE.search(segment.text), repr(segment.text)
        style = segment.style
        assert style is None or (style.link is None and not style.meta), style
    assert app.title == "wirechat"
    assert app.sub_title == ""


async def test_markup_through_a_real_server_shows_as_typed(server: ChatServer) -> None:
    bob = await NativeClient.connect(server, "bob")
    app = app_for(server, "alice")
    async with app.run_test(size=(120, 30)) as pilot:
        await in_chat(pilot, app)
        for text in MARKUP:
            await bob.send(Say(text=text))
        await log_shows(pilot, app, MARKUP[-1])
        for text in MARKUP:
            assert f"bob │ {text}" in log_text(app)
        chat_of(app).chat_input.value = "[red]mine[/red]"
        await pilot.press("enter")
        await log_shows(pilot, app, "alice │ [red]mine[/red]")
        assert_inert(app)
        assert app.is_running  # [@click=app.quit] did not quit
    await bob.close()


async def test_escape_sequences_from_a_hostile_server_are_defused() -> None:
    nasty = (
        "\x1b]0;pwned\x07 title",  # OSC: set the terminal title
        "\x1b[2J wipe",  # CSI: clear the screen
        "\x9b31m c1",  # a one-character CSI on some terminals
        "\u202eevil\u202c bidi",  # right-to-left override (Trojan Source)
        "[bold]x[/] \x1b[5m",
    )
    frames: list[AnyMessage] = [
        Joined(name="mal\x1b[31mlory", ts=0),
        *(Message(id=n, ts=0, sender="mallory", text=text) for n, text in enumerate(nasty)),
        Message(id=9, ts=0, sender="\x1b]0;x\x07", text="sender", action=True),
        Users(users=["alice", "\x1b[2Jmallory"], room="#lobby"),
        Topic(room="#lobby", topic="\x1b]0;t\x07 [b]topic[/b]", by="mallory", ts=0),
        Message(id=20, ts=0, sender="mallory", text="psst", room="#\x1b[31mred"),
        Message(id=21, ts=0, sender="\x1b]0;x\x07dm", text="psst", to="alice"),
        RoomList(rooms=[RoomSummary(room="#\x1b[2J", users=1, topic="\u202eevil")]),
        Error(code="oops", detail="[link=x]\x1b[2J[/link]"),
    ]
    async with hostile_server(frames) as address:
        app = app_for(address, "alice", config=EVERY_JOIN)
        async with app.run_test(size=(120, 30)) as pilot:
            chat = await in_chat(pilot, app)
            await log_shows(pilot, app, "[link=x]␛[2J[/link]")
            text = log_text(app)
            # Visible stand-ins where the controls were: ␛ for ESC, ␇ for BEL, U+FFFD else.
            assert "␛]0;pwned␇ title" in text
            assert "␛[2J wipe" in text
            assert "\ufffd31m c1" in text
            assert "\ufffdevil\ufffd bidi" in text
            assert "[bold]x[/] ␛[5m" in text
            assert "mal␛[31mlory joined" in text
            assert_inert(app)
            assert "␛[2Jmallory" in chat.user_list.names
            assert "#␛[2J · 1 user: \ufffdevil" in text
            for widget in (chat.user_list, chat.room_list):
                for index in range(widget.option_count):
                    prompt = str(widget.get_option_at_index(index).prompt)
                    assert not _UNSAFE.search(prompt), prompt
            topic = str(chat.topic_bar.render())
            assert "␛]0;t␇ [b]topic[/b]" in topic
            assert not _UNSAFE.search(topic)
            assert sorted(item.name for item in chat.room_list.items) == sorted(
                ["#lobby", "#␛[31mred", "␛]0;x␇dm"]
            )
