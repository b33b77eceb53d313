"""The settings file: found in the XDG config folder or given with --config, and checked."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.style import Style
from rich.text import Text
from textual.command import CommandPalette
from textual.widget import Widget

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
from tests.support.net import NativeClient
from wirechat_client.address import Address
from wirechat_client.cli import main, settings_from
from wirechat_client.config import ClientConfig
from wirechat_common import Message
from wirechat_server.server import ChatServer

ADDRESS = Address("chat.example", 5001)


def test_the_file_in_the_config_folder_is_read(config_home: Path) -> None:
    assert settings_from([], {"XDG_CONFIG_HOME": str(config_home)}).config == ClientConfig()
    (config_home / "wirechat").mkdir(parents=True)
    (config_home / "wirechat" / "config.toml").write_text("paste-confirm-lines = 9\nbell = false\n")
    config = settings_from([], {"XDG_CONFIG_HOME": str(config_home)}).config
    assert config == ClientConfig(paste_confirm_lines=9, bell=False)


def test_config_flag_and_variable(tmp_path: Path) -> None:
    mine = tmp_path / "mine.toml"
    mine.write_text("paste_confirm_lines = 0\n")
    assert settings_from(["--config", str(mine)], {}).config.paste_confirm_lines == 0
    assert settings_from([], {"WIRECHAT_CONFIG": str(mine)}).config.paste_confirm_lines == 0


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("bell = 1\n", "bell must be true or false"),
        ("paste-confirm-lines = -1\n", "paste-confirm-lines must be a whole number"),
        (
            "colour = 'red'\n",
            "unknown setting 'colour' (known: bell, desktop-notify, highlight-words, keys, "
            "nick-palette, paste-confirm-lines, smart-filter-minutes, timestamp-format)",
        ),
        ("desktop-notify = 'yes'\n", "desktop-notify must be one of 'off', 'osc9', 'osc777'"),
        ("bell = \n", ""),  # not TOML
        (
            "[keys]\nnext = 'ctrl+n'\n",
            "keys: unknown action 'next' (known: help, toggle-users, toggle-rooms, "
            "command-palette, previous-conversation, next-conversation, next-active, ",
        ),
        (
            "[keys]\nredraw = 'cmd+l'\n",
            "keys.redraw: 'cmd+l': modifiers are ctrl, alt, shift, super, meta, hyper, each once",
        ),
        ("[keys]\nredraw = 'ctrl+nope'\n", "keys.redraw: 'ctrl+nope': 'nope' is not a key"),
        ("[keys]\nsearch = 'ctrl+r,'\n", "keys.search must be a key or keys, such as"),
        ("[keys]\nsearch = 5\n", "keys.search must be a key or keys, such as"),
        ("keys = 'ctrl+n'\n", "keys must be a table"),
        (
            "nick-palette = ['green', 'grean']\n",
            "nick-palette: 'grean' is not a colour (a name such as",
        ),
        ("nick-palette = []\n", "nick-palette must be a list of colours"),
        ("nick-palette = '#ff8800'\n", "nick-palette must be a list of colours"),
    ],
)
def test_a_bad_file_is_a_usage_error_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, error: str
) -> None:
    mine = tmp_path / "mine.toml"
    mine.write_text(text)
    assert main(["--config", str(mine)]) == 2
    assert f"mine.toml: {error}" in capsys.readouterr().err
    assert main(["--config", str(tmp_path / "missing.toml")]) == 2
    assert "missing.toml: no such file" in capsys.readouterr().err


async def test_tab_offers_others_not_oneself(server: ChatServer) -> None:
    amy = await NativeClient.connect(server, "amy")
    app = app_for(server, "alice", config=ClientConfig(bell=False))
    async with app.run_test(size=(100, 30)) as pilot:
        chat = await in_chat(pilot, app)
        await until(pilot, lambda: "amy" in chat.user_list.names)
        await pilot.press("a", "tab")
        assert chat_of(app).chat_input.value == "amy: "
        await pilot.press("tab")  # the only other match is oneself: it stays amy
        assert chat_of(app).chat_input.value == "amy: "
    await amy.close()


def test_timestamp_format_and_highlight_words_are_read(tmp_path: Path) -> None:
    mine = tmp_path / "mine.toml"
    mine.write_text('timestamp-format = "%H:%M:%S"\nhighlight-words = ["deploy", " oncall "]\n')
    config = settings_from(["--config", str(mine)], {}).config
    assert config.timestamp_format == "%H:%M:%S"
    assert config.highlight_words == ("deploy", "oncall")
    mine.write_text('highlight-words = "deploy"\n')
    with pytest.raises(SystemExit):
        settings_from(["--config", str(mine)], {})


async def test_times_show_in_the_format_and_highlight_words_mention_us() -> None:
    peer = ScriptedConnection(
        [
            welcome_script("alice", ["alice", "bob"]),
            [
                Message(id=1, ts=FIXED_MS, sender="bob", text="the Deploy went out"),
                Message(id=2, ts=FIXED_MS, sender="bob", text="redeployment later"),
            ],
        ]
    )
    config = ClientConfig(timestamp_format="%H:%M:%S", highlight_words=("deploy",))
    app = app_for(ADDRESS, "alice", connect=peer.factory, config=config)
    async with app.run_test(size=(100, 30)) as pilot:
        chat = await in_chat(pilot, app)
        await log_shows(pilot, app, "redeployment later")
        assert "12:34:00          bob │ the Deploy went out" in log_text(app)
        mentioned = [e.mention for e in chat.current.log.entries if e.nick == "bob"]
        assert mentioned == [True, False]  # a word, not a part of one


def test_keys_and_nick_palette_are_read(tmp_path: Path) -> None:
    mine = tmp_path / "mine.toml"
    mine.write_text(
        'nick-palette = ["#ff8800", " green "]\n'
        "[keys]\n"
        'toggle-users = "F6"\n'
        'next-conversation = ["ctrl+t", "alt+question_mark", "?"]\n'
    )
    config = settings_from(["--config", str(mine)], {}).config
    assert config.nick_palette == ("#ff8800", "green")
    assert config.keymap == {
        "toggle-users": "f6",
        "next-conversation": "ctrl+t,alt+question_mark,?",
    }


def shown(widget: Widget) -> bool:
    return widget.display


async def test_a_rebound_key_does_the_action_and_the_old_key_no_longer_does() -> None:
    peer = ScriptedConnection([welcome_script("alice", ["alice", "bob"])])
    config = ClientConfig(keys=(("toggle-users", "f6"), ("command-palette", "f8")))
    app = app_for(ADDRESS, "alice", connect=peer.factory, config=config)
    async with app.run_test(size=(50, 20)) as pilot:
        chat = await in_chat(pilot, app)
        await pilot.pause()
        users = chat.user_list
        assert not shown(users)  # narrow: hidden until asked
        await pilot.press("f2")
        assert not shown(users)
        await pilot.press("f6")
        assert shown(users)
        await pilot.press("f6")
        assert not shown(users)
        await pilot.press("f3")  # a key left alone still works
        await pilot.press("f4")
        await pilot.pause()
        assert app.screen is chat
        await pilot.press("f8")
        await until(pilot, lambda: isinstance(app.screen, CommandPalette))


async def test_a_nick_palette_colours_the_nicks() -> None:
    peer = ScriptedConnection(
        [
            welcome_script("alice", ["alice", "bob", "carol"]),
            [
                Message(id=1, ts=FIXED_MS, sender="bob", text="hello"),
                Message(id=2, ts=FIXED_MS, sender="carol", text="hi"),
            ],
        ]
    )
    config = ClientConfig(nick_palette=("#ff8800", "green"))
    app = app_for(ADDRESS, "alice", connect=peer.factory, config=config)
    async with app.run_test(size=(100, 30)) as pilot:
        chat = await in_chat(pilot, app)
        await log_shows(pilot, app, "hi")
        log = chat.chat_log
        strips = [log.render_line(y) for y in range(log.size.height)]
        nicks = {
            s.text.strip(): s.style.color.name
            for strip in strips
            for s in strip
            if s.text.strip() in ("bob", "carol") and s.style and s.style.color
        }
        assert nicks.keys() == {"bob", "carol"}
        assert set(nicks.values()) == {"#ff8800", "green"}  # two people, two colours
        listed = {
            o.prompt.plain: o.prompt.style.color.name
            for o in chat.user_list.options
            if isinstance(o.prompt, Text)
            and isinstance(o.prompt.style, Style)
            and o.prompt.style.color
        }
        assert {listed["bob"], listed["carol"]} == {"#ff8800", "green"}  # the list, too
