"""How the client looks: nick colours, pane widths, links, wide characters."""

from __future__ import annotations

from pathlib import Path

from rich.color import Color
from rich.style import Style
from rich.text import Text
from textual.strip import Strip
from textual.theme import BUILTIN_THEMES

from tests.support.app import (
    FIXED_MS,
    ScriptedConnection,
    app_for,
    in_chat,
    log_shows,
    topic_text,
    until,
    welcome_script,
)
from wirechat_client.address import Address
from wirechat_client.app import WirechatApp
from wirechat_client.nick_colors import DARK_PALETTE, LIGHT_PALETTE, NickColors
from wirechat_common import Message, RoomInfo

ADDRESS = Address("chat.example", 5001)

#: The four names the old 12-colour palette hashed to one cyan.
CYANS = ["bob", "dave", "heidi", "oscar"]


def _luminance(color: str) -> float:
    def linear(value: int) -> float:
        v = value / 255
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

    r, g, b = Color.parse(color).get_truecolor()
    return 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b)


def _contrast(a: str, b: str) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_every_nick_colour_is_readable_on_every_theme_background() -> None:
    assert len(DARK_PALETTE) == len(LIGHT_PALETTE) >= 24
    assert len(set(DARK_PALETTE)) == len(set(LIGHT_PALETTE)) == len(DARK_PALETTE)
    for theme in BUILTIN_THEMES.values():
        if theme.background is None or not theme.background.startswith("#"):
            continue  # the terminal's own background (ansi-*): unknown
        palette = DARK_PALETTE if theme.dark else LIGHT_PALETTE
        worst = min(_contrast(color, theme.background) for color in palette)
        assert worst >= 4.5, (theme.name, worst)  # WCAG AA for text


def test_people_present_get_different_colours_and_keep_them() -> None:
    colors = NickColors()
    colors.present(["alice", *CYANS])
    first = {name: colors.slot(name) for name in CYANS}
    assert len(set(first.values())) == len(CYANS)
    colors.present(["alice", *CYANS, *(f"user{n}" for n in range(12))])
    assert {name: colors.slot(name) for name in CYANS} == first
    assert colors.slot("BOB") == first["bob"]


def test_colours_are_shared_only_when_there_are_more_people_than_colours() -> None:
    colors = NickColors(size=4)
    colors.present(["a", "b", "c", "d"])
    assert sorted(colors.slot(n) for n in "abcd") == [0, 1, 2, 3]
    colors.present(["a", "b", "c", "e"])  # d went: its colour goes to e
    assert sorted(colors.slot(n) for n in "abce") == [0, 1, 2, 3]
    colors.present(["a", "b", "c", "e", "f"])
    assert 0 <= colors.slot("f") < 4


async def test_the_user_list_and_the_log_give_four_former_cyans_four_colours() -> None:
    peer = ScriptedConnection([welcome_script("alice", ["alice", *CYANS])])
    app = app_for(ADDRESS, "alice", connect=peer.factory)
    async with app.run_test(size=(120, 40)) as pilot:
        chat = await in_chat(pilot, app)
        await until(pilot, lambda: len(chat.user_list.names) == 5)
        prompts = [chat.user_list.get_option_at_index(i).prompt for i in range(5)]
        colors = {
            str(p): p.style.color
            for p in prompts
            if isinstance(p, Text) and isinstance(p.style, Style)
        }
        assert len({colors[name] for name in CYANS}) == len(CYANS), colors


async def test_at_80_columns_the_log_gets_the_user_lists_room_and_f2_f3_are_remembered(
    tmp_path: Path,
) -> None:
    def app() -> WirechatApp:
        peer = ScriptedConnection([welcome_script("alice", ["alice", "bob"])])
        return app_for(ADDRESS, "alice", connect=peer.factory, prefs_dir=tmp_path)

    first = app()
    async with first.run_test(size=(80, 24)) as pilot:
        chat = await in_chat(pilot, first)
        await pilot.pause()
        assert chat.user_list.region.width == 0
        assert chat.room_list.region.width > 0
        assert chat.chat_log.scrollable_content_region.width >= 60  # was 46
        await pilot.press("f2", "f3")  # the user list in, the conversation list out
        await until(pilot, lambda: chat.user_list.region.width > 0)
        assert chat.room_list.region.width == 0
    again = app()
    async with again.run_test(size=(120, 40)) as pilot:
        chat = await in_chat(pilot, again)
        await pilot.pause()
        assert chat.user_list.region.width > 0
        assert chat.room_list.region.width == 0  # hidden even though 120 columns have room
        await pilot.press("f3")
        await until(pilot, lambda: chat.room_list.region.width > 0)


LONG_URL = "https://wiki.example.com/teams/platform/releases/2025-01-02/checklist?section=rollback"


def linked(strips: list[Strip]) -> set[str]:
    """The link targets (OSC 8) in ``strips``."""
    return {s.style.link for strip in strips for s in strip if s.style and s.style.link}


async def test_a_url_in_the_topic_is_shown_whole_and_linked() -> None:
    peer = ScriptedConnection(
        [
            welcome_script("alice", ["alice", "bob"]),
            [RoomInfo(room="#lobby", users=["alice", "bob"], topic=f"release notes: {LONG_URL}.")],
        ]
    )
    app = app_for(ADDRESS, "alice", connect=peer.factory)
    async with app.run_test(size=(80, 24)) as pilot:
        chat = await in_chat(pilot, app)
        await until(pilot, lambda: "release" in topic_text(app))
        await pilot.pause()
        bar = chat.topic_bar
        rows = [bar.render_line(y) for y in range(bar.size.height)]
        assert "".join(row.text.strip() for row in rows).endswith(f"{LONG_URL}.")
        assert linked(rows) == {LONG_URL}
        assert bar.size.height <= 3


async def test_urls_in_the_log_are_links() -> None:
    text = f"see {LONG_URL}, and (http://x.org/a_(b)) too"
    peer = ScriptedConnection(
        [
            welcome_script("alice", ["alice", "bob"]),
            [Message(id=1, ts=FIXED_MS, sender="bob", text=text)],
        ]
    )
    app = app_for(ADDRESS, "alice", connect=peer.factory)
    async with app.run_test(size=(80, 24)) as pilot:
        chat = await in_chat(pilot, app)
        await log_shows(pilot, app, "too")
        entry = chat.chat_log.model.find(1)
        assert entry is not None
        assert linked(entry.rows) == {LONG_URL, "http://x.org/a_(b)"}
