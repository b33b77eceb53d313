"""The client's settings file: TOML at ``$XDG_CONFIG_HOME/wirechat/config.toml``.

Every setting has a default, so the file is optional and may hold any subset of them. Unlike the
remembered values (:mod:`wirechat_client.prefs`), this file is written by the user: a mistake in
it is reported, with the file's name, rather than ignored.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Final

from .lines import DEFAULT_TIME_FORMAT

#: Pastes of more lines than this ask before they are sent (irssi's paste_verify_line_count).
DEFAULT_PASTE_CONFIRM_LINES: Final = 5

#: How desktop notifications reach the terminal: OSC 9 (iTerm2, WezTerm, kitty, foot, Ghostty,
#: Windows Terminal) or OSC 777 (urxvt, foot, Ghostty, VTE terminals with the patch). Off by
#: default: a terminal that knows neither may show the bytes' text or nothing.
DESKTOP_NOTIFY_CHOICES: Final = ("off", "osc9", "osc777")


@dataclass(frozen=True, slots=True)
class ClientConfig:
    """What the settings file may set (the names are the file's keys, with ``-`` for ``_``)."""

    #: A block of more lines than this asks before it is sent; 0 never asks.
    paste_confirm_lines: int = DEFAULT_PASTE_CONFIRM_LINES
    #: Let the client ring the terminal bell: on a mention or a direct message, and when a key
    #: has nothing to do (Tab finds nothing to complete, Alt+A finds nothing unread).
    bell: bool = True
    #: Desktop notifications for mentions and direct messages: one of DESKTOP_NOTIFY_CHOICES.
    desktop_notify: str = "off"
    #: How the log shows times (strftime): "%H:%M:%S" for seconds, "%I:%M %p" for 12 hours.
    timestamp_format: str = DEFAULT_TIME_FORMAT
    #: Words besides one's name that count as a mention (highlight, bell, notification).
    highlight_words: tuple[str, ...] = ()
    #: Joins and leaves show only for people who spoke within this many minutes (WeeChat's
    #: smart filter); 0 shows them all.
    smart_filter_minutes: int = 10
    #: The file these values came from, if any.
    path: Path | None = field(default=None, compare=False)


class ConfigError(ValueError):
    """The settings file exists but cannot be used; the message names the file and the fault."""


def config_dir(environ: Mapping[str, str] | None = None) -> Path:
    """``$XDG_CONFIG_HOME/wirechat``, following the XDG base directory spec (``~/.config``
    when the variable is unset or not an absolute path)."""
    environ = os.environ if environ is None else environ
    base = environ.get("XDG_CONFIG_HOME") or ""
    root = Path(base) if os.path.isabs(base) else Path.home() / ".config"
    return root / "wirechat"


def default_config_path(environ: Mapping[str, str] | None = None) -> Path:
    return config_dir(environ) / "config.toml"


def load_config(path: Path, *, required: bool = False) -> ClientConfig:
    """The settings in ``path``; the defaults if it does not exist (unless ``required``)."""
    try:
        with path.open("rb") as file:
            data = tomllib.load(file)
    except FileNotFoundError:
        if required:
            raise ConfigError(f"{path}: no such file") from None
        return ClientConfig()
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(f"{path}: {error}") from None
    return ClientConfig(**_values(data, path), path=path)


def _values(data: dict[str, Any], path: Path) -> dict[str, Any]:
    known = [f.name for f in fields(ClientConfig) if f.name != "path"]
    values: dict[str, Any] = {}
    for key, value in data.items():
        name = key.replace("-", "_")
        if name not in known:
            settings = ", ".join(sorted(k.replace("_", "-") for k in known))
            raise ConfigError(f"{path}: unknown setting {key!r} (known: {settings})")
        values[name] = _checked(key, value, ClientConfig.__dataclass_fields__[name].default, path)
    return values


#: The settings whose value is one of a few words.
_CHOICES: Final[dict[str, tuple[str, ...]]] = {"desktop_notify": DESKTOP_NOTIFY_CHOICES}


def _checked(key: str, value: object, default: object, path: Path) -> object:
    choices = _CHOICES.get(key.replace("-", "_"))
    if choices is not None:
        if value in choices:
            return value
        raise ConfigError(f"{path}: {key} must be one of {', '.join(map(repr, choices))}")
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{path}: {key} must be true or false")
    if isinstance(default, str):
        if isinstance(value, str) and value.strip() and value.isprintable():
            return value
        raise ConfigError(f"{path}: {key} must be a string, not empty")
    if isinstance(default, tuple):
        if isinstance(value, list) and all(isinstance(v, str) and v.strip() for v in value):
            return tuple(v.strip() for v in value)
        raise ConfigError(f'{path}: {key} must be a list of words, such as ["deploy"]')
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise ConfigError(f"{path}: {key} must be a whole number, 0 or more")
