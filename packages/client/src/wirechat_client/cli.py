"""The ``wirechat`` command: read the settings from flags and environment, then run the App."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, NoReturn

from wirechat_common import MAX_NAME_LENGTH, is_valid_name
from wirechat_common.names import NAME_CHARACTERS

from . import __version__
from .address import DEFAULT_HOST, DEFAULT_PORT, Address, parse_address
from .config import (
    DEFAULT_PASTE_CONFIRM_LINES,
    ClientConfig,
    ConfigError,
    default_config_path,
    load_config,
)
from .prefs import Prefs, default_path

DESCRIPTION: Final = f"""\
Chat on a wirechat server from the terminal.

With a name (--name or WIRECHAT_NAME) it connects at once; otherwise a form asks for the
server and the name, filled in with what you used last time. The server defaults to
{DEFAULT_HOST}:{DEFAULT_PORT}.

environment:
  WIRECHAT_HOST     server host, or HOST:PORT (like the HOST argument)
  WIRECHAT_PORT     server port (default {DEFAULT_PORT})
  WIRECHAT_NAME     your name (like --name)
  WIRECHAT_THEME    a Textual theme, e.g. textual-light (like --theme)
  WIRECHAT_CONFIG   the settings file (like --config)
  XDG_CONFIG_HOME   where the settings file (wirechat/config.toml) is read and the last
                    server, name and theme are remembered (wirechat/client.json);
                    default ~/.config
Flags win over the environment.

settings file (TOML, every key optional):
  paste-confirm-lines = {DEFAULT_PASTE_CONFIRM_LINES}   a block of more lines asks before it is sent
                            (0: never asks)
  bell = true               false: never ring the terminal bell (it rings on a mention
                            or a direct message)
  desktop-notify = "off"    "osc9" or "osc777": a desktop notification for each mention
                            or direct message, if the terminal shows them
  timestamp-format = "%H:%M" how the log shows times (strftime), e.g. "%H:%M:%S"
  highlight-words = []      words that count as mentioning you, e.g. ["deploy"]
  smart-filter-minutes = 10 joins and leaves only of people who spoke this recently
  nick-palette = [...]      nick colours in place of the built-in ones, e.g.
                            ["#ff8800", "green"]
  [keys]                    new keys for the client's actions (the old ones stop), e.g.
  next-conversation = "ctrl+t"
                            actions: help, toggle-users, toggle-rooms, command-palette,
                            previous-conversation, next-conversation, next-active,
                            conversation-1 .. conversation-10, redraw, search,
                            scroll-up, scroll-down, latest, quit

In the chat, /help lists the commands and keys.
"""


@dataclass(frozen=True, slots=True)
class Settings:
    """What the command line and environment say."""

    address: Address | None
    name: str
    theme: str
    remember: bool
    config: ClientConfig = field(default_factory=ClientConfig)
    message: str = ""  # an error to show on the form instead of connecting

    @property
    def connect_now(self) -> bool:
        return bool(self.name) and not self.message


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wirechat",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("server", nargs="?", metavar="HOST[:PORT]", help="the server to join")
    parser.add_argument("-n", "--name", help="your name; connect without asking (WIRECHAT_NAME)")
    parser.add_argument(
        "-p", "--port", type=int, help=f"server port (WIRECHAT_PORT, {DEFAULT_PORT})"
    )
    parser.add_argument("--theme", help="Textual theme name (WIRECHAT_THEME)")
    parser.add_argument(
        "--no-remember", action="store_true", help="neither read nor save the last values"
    )
    parser.add_argument(
        "--config",
        metavar="PATH",
        help="the settings file (WIRECHAT_CONFIG; default $XDG_CONFIG_HOME/wirechat/config.toml)",
    )
    parser.add_argument("--version", action="version", version=f"wirechat {__version__}")
    return parser


def settings_from(argv: Sequence[str] | None, environ: Mapping[str, str]) -> Settings:
    """Parse flags over environment; exits (argparse style) on a bad address or port."""
    parser = build_parser()
    args = parser.parse_args(argv)
    server = args.server or environ.get("WIRECHAT_HOST", "")
    port_text = str(args.port) if args.port is not None else environ.get("WIRECHAT_PORT", "")
    address: Address | None = None
    try:
        default_port = int(port_text) if port_text else DEFAULT_PORT
        if not 0 < default_port < 65536:
            raise ValueError(f"the port must be from 1 to 65535, not {default_port}")
        if server:
            address = parse_address(server, default_port)
        elif port_text:
            address = Address(DEFAULT_HOST, default_port)
    except ValueError as error:
        parser.error(str(error))  # exits with status 2, like any usage error
    name = (args.name if args.name is not None else environ.get("WIRECHAT_NAME", "")).strip()
    message = ""
    if name and not is_valid_name(name):
        message = f"Name: 1 to {MAX_NAME_LENGTH} characters, only {NAME_CHARACTERS}."
    if name and address is None:
        address = Address(DEFAULT_HOST, DEFAULT_PORT)
    theme = args.theme or environ.get("WIRECHAT_THEME", "")
    config_path = args.config or environ.get("WIRECHAT_CONFIG", "")
    try:
        if config_path:
            config = load_config(Path(config_path), required=True)
        else:
            config = load_config(default_config_path(environ))
    except ConfigError as error:
        parser.error(str(error))
    return Settings(address, name, theme, not args.no_remember, config, message)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the client; the exit status is returned, not raised."""
    try:
        settings = settings_from(argv, os.environ)
    except SystemExit as exit_:  # --help, --version, or a usage error already printed
        return exit_.code if isinstance(exit_.code, int) else 2
    from .app import WirechatApp  # Textual loads only once the arguments are good
    from .terminal_keys import report_alt_digits

    report_alt_digits()

    app = WirechatApp(
        address=settings.address,
        name=settings.name,
        connect_now=settings.connect_now,
        prefs=Prefs(default_path() if settings.remember else None),
        message=settings.message,
        theme=settings.theme,
        config=settings.config,
    )
    app.run()
    return app.return_code or 0


def main_exit() -> NoReturn:
    """The console script's entry point."""
    sys.exit(main())
