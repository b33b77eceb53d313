"""What a line typed in the input means: text to say, a slash command, or a local mistake.

Parsing is pure so it can be tested without a UI. An unknown command is an error shown locally
and never sent: a mistyped ``/qiut`` must not end up in front of everyone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from wirechat_common import MAX_TEXT_BYTES, ProtocolError, check_text

#: Every command with its argument and help line, in the order /help shows them.
COMMANDS: Final = {
    "/help": ("", "show the commands and keys"),
    "/who": ("", "list who is here"),
    "/me": ("ACTION", "say an action (/me waves shows as * alice waves)"),
    "/clear": ("", "clear the chat log (on this screen only)"),
    "/quit": ("", "leave the chat (typing bye does the same)"),
}


@dataclass(frozen=True, slots=True)
class Send:
    """Say ``text`` to everyone; ``action`` for ``/me``."""

    text: str
    action: bool = False


@dataclass(frozen=True, slots=True)
class Run:
    """Run the local or server command ``name`` (one of :data:`COMMANDS`)."""

    name: str


@dataclass(frozen=True, slots=True)
class Invalid:
    """The line cannot be sent; ``reason`` tells the user why."""

    reason: str


Parsed = Send | Run | Invalid


def parse_line(line: str, max_text_bytes: int = MAX_TEXT_BYTES) -> Parsed | None:
    """Interpret a submitted line; ``None`` for a blank one, which does nothing."""
    text = line.rstrip()
    if not text.strip():
        return None
    if text.strip().lower() == "bye":  # the lab client's way out, kept for old habits
        return Run("/quit")
    if text.startswith("//"):  # IRC's escape: "//etc/hosts" says "/etc/hosts"
        return _checked(Send(text[1:]), max_text_bytes)
    if not text.startswith("/"):
        return _checked(Send(text), max_text_bytes)
    command, _, argument = text.partition(" ")
    command = command.lower()
    if command == "/me":
        if not argument.strip():
            return Invalid("usage: /me ACTION")
        return _checked(Send(argument.strip(), action=True), max_text_bytes)
    if command in COMMANDS:
        return Run(command)
    return Invalid(f"unknown command {command}: /help lists them (start with // to say it)")


def _checked(send: Send, max_text_bytes: int) -> Send | Invalid:
    try:
        check_text(send.text, max_text_bytes)
    except ProtocolError as error:
        return Invalid(f"not sent: {error.detail}")
    return send


def help_lines() -> list[str]:
    """The text of ``/help``: short lines, since the log may be narrow."""
    lines = ["Commands:"]
    for name, (argument, meaning) in COMMANDS.items():
        lines.append(f"{name} {argument}".rstrip() + f": {meaning}")
    lines += [
        "//TEXT: say TEXT, starting with a slash",
        "Keys: Enter send · Up/Down history · Tab complete a nick or command",
        "PgUp/PgDn scroll · Ctrl+End newest · Shift+Tab pick a user to mention · F2 user list",
        "Ctrl+L clear · Ctrl+P themes and more · Ctrl+Q quit",
    ]
    return lines
