"""The settings file: found in the XDG config folder or given with --config, and checked."""

from __future__ import annotations

from pathlib import Path

import pytest

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
            "unknown setting 'colour' (known: bell, desktop-notify, highlight-words, "
            "paste-confirm-lines, smart-filter-minutes, timestamp-format)",
        ),
        ("desktop-notify = 'yes'\n", "desktop-notify must be one of 'off', 'osc9', 'osc777'"),
        ("bell = \n", "mine.toml: "),
    ],
)
def test_a_bad_file_is_a_usage_error_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, error: str
) -> None:
    mine = tmp_path / "mine.toml"
    mine.write_text(text)
    assert main(["--config", str(mine)]) == 2
    assert error in capsys.readouterr().err
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
