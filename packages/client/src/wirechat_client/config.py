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

from .keymap import KEY_ACTIONS, key_problem, parse_keys
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
    #: The ``[keys]`` table: (action, keys) pairs, keys comma-joined as Textual's keymap takes.
    keys: tuple[tuple[str, str], ...] = ()
    #: Nick colours (Rich colour strings) in place of the built-in palettes; empty: those.
    nick_palette: tuple[str, ...] = ()
    #: The file these values came from, if any.
    path: Path | None = field(default=None, compare=False)

    @property
    def keymap(self) -> dict[str, str]:
        """The ``[keys]`` table as Textual's keymap: binding id to keys."""
        return dict(self.keys)


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
        if name == "keys":
            values[name] = _keys(value, path)
        elif name == "nick_palette":
            values[name] = _palette(value, path)
        else:
            default = ClientConfig.__dataclass_fields__[name].default
            values[name] = _checked(key, value, default, path)
    return values


def _keys(table: object, path: Path) -> tuple[tuple[str, str], ...]:
    if not isinstance(table, dict):
        raise ConfigError(f'{path}: keys must be a table, such as [keys] next-active = "ctrl+a"')
    pairs: list[tuple[str, str]] = []
    for action, value in table.items():
        if action not in KEY_ACTIONS:
            known = ", ".join(KEY_ACTIONS)
            raise ConfigError(f"{path}: keys: unknown action {action!r} (known: {known})")
        keys = parse_keys(value)
        if keys is None:
            raise ConfigError(
                f'{path}: keys.{action} must be a key or keys, such as "ctrl+n" or '
                f'["ctrl+n", "alt+down"]'
            )
        for key in keys.split(","):
            problem = key_problem(key)
            if problem is not None:
                raise ConfigError(f"{path}: keys.{action}: {problem}")
        pairs.append((action, keys))
    return tuple(pairs)


def _palette(value: object, path: Path) -> tuple[str, ...]:
    from rich.color import Color, ColorParseError  # Rich, not Textual: loads quickly

    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise ConfigError(f'{path}: nick-palette must be a list of colours, such as ["#ff8800"]')
    for color in value:
        try:
            Color.parse(color)
        except ColorParseError:
            raise ConfigError(
                f"{path}: nick-palette: {color!r} is not a colour (a name such as "
                f'"green", "#ff8800" or "rgb(255,136,0)")'
            ) from None
    return tuple(v.strip() for v in value)


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
