"""The command line, the environment, and the remembered values."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from wirechat_client.address import Address
from wirechat_client.cli import main, settings_from
from wirechat_client.prefs import Prefs, Remembered, default_path


def test_help_lists_every_setting_and_variable(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for word in ("HOST[:PORT]", "--name", "--port", "--theme", "--no-remember"):
        assert word in out
    for variable in ("WIRECHAT_HOST", "WIRECHAT_PORT", "WIRECHAT_NAME", "WIRECHAT_THEME"):
        assert variable in out
    assert "XDG_CONFIG_HOME" in out


def test_version_and_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert "wirechat" in capsys.readouterr().out
    assert main(["host:notaport"]) == 2
    assert "the port must be a number" in capsys.readouterr().err
    assert main(["--port", "70000"]) == 2


def test_flags_win_over_the_environment() -> None:
    environ = {"WIRECHAT_HOST": "env.example", "WIRECHAT_PORT": "6000", "WIRECHAT_NAME": "envy"}
    settings = settings_from([], environ)
    assert settings.address == Address("env.example", 6000)
    assert (settings.name, settings.connect_now) == ("envy", True)
    settings = settings_from(["flag.example:7000", "--name", "flaggy"], environ)
    assert settings.address == Address("flag.example", 7000)
    assert settings.name == "flaggy"
    settings = settings_from(["--port", "7001"], {"WIRECHAT_HOST": "h"})
    assert settings.address == Address("h", 7001)


def test_without_a_name_the_form_asks() -> None:
    settings = settings_from(["chat.example"], {})
    assert settings.address == Address("chat.example", 5001)
    assert not settings.connect_now
    assert settings_from([], {}).address is None


def test_a_bad_name_goes_to_the_form_with_the_reason() -> None:
    settings = settings_from(["--name", "no spaces"], {})
    assert not settings.connect_now
    assert "Name: 1 to 32 characters" in settings.message
    assert settings.address == Address("127.0.0.1", 5001)


def test_prefs_follow_xdg_and_survive_junk(tmp_path: Path, config_home: Path) -> None:
    assert default_path() == config_home / "wirechat" / "client.json"
    assert (
        default_path({"XDG_CONFIG_HOME": "relative"})
        == Path.home() / ".config" / "wirechat" / "client.json"
    )
    prefs = Prefs(tmp_path / "deep" / "client.json")
    assert prefs.load() == Remembered()
    prefs.save(server="h:1", name="alice")
    prefs.save(theme="nord")
    assert prefs.load() == Remembered("h:1", "alice", "nord")
    assert json.loads((tmp_path / "deep" / "client.json").read_text())["name"] == "alice"
    (tmp_path / "deep" / "client.json").write_text("{not json")
    assert prefs.load() == Remembered()
    (tmp_path / "deep" / "client.json").write_text('{"name": 5, "server": "x", "other": 1}')
    assert prefs.load() == Remembered(server="x")
    Prefs(None).save(name="ignored")  # remembering off: nothing happens
