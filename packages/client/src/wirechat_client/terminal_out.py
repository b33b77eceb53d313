"""Bytes for the terminal itself, beside the screen Textual draws: the bell, the window title
and desktop notifications.

Textual's ``App.title`` only names the app in its own header; the terminal's title is set with
OSC 0 (window and icon title: tab labels in terminals that use either). Desktop notifications
are OSC 9 or OSC 777, whichever the terminal knows (a setting: off by default, since a terminal
that knows neither may ignore them or not). Every sequence ends with BEL, the terminator the
most terminals accept. Text from others passes ``sanitize_text`` first: no byte of it can end
the sequence early or start another.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from wirechat_common import sanitize_text

from .activity import Alert

BELL: Final = "\x07"
#: xterm's window operations: push the title on its stack, pop it back (tmux, kitty, foot and
#: VTE keep one as well); a terminal without the stack ignores them.
SAVE_TITLE: Final = "\x1b[22;0t"
RESTORE_TITLE: Final = "\x1b[23;0t"


def _clean(text: str) -> str:
    # sanitize_text makes control characters visible; ";" would split OSC 777's fields.
    return sanitize_text(text).replace(";", ",")


def title_sequence(title: str) -> str:
    return f"\x1b]0;{sanitize_text(title)}{BELL}"


def notification_sequence(style: str, alert: Alert) -> str:
    """The desktop notification of ``alert`` in ``style`` (``osc9``, ``osc777``; else none)."""
    if style == "osc9":
        return f"\x1b]9;{sanitize_text(alert.summary)}{BELL}"
    if style == "osc777":
        return f"\x1b]777;notify;wirechat;{_clean(alert.summary)}{BELL}"
    return ""


class TerminalOut:
    """Writes the title and notifications through ``write`` (the App's driver); the title only
    when it changes. (The bell is ``App.bell``'s.)"""

    def __init__(self, write: Callable[[str], None], *, desktop_notify: str) -> None:
        self._write = write
        self._desktop_notify = desktop_notify
        self._title: str | None = None

    def title(self, title: str) -> None:
        if title == self._title:
            return
        if self._title is None:
            self._write(SAVE_TITLE)  # the shell's title comes back when we leave
        self._title = title
        self._write(title_sequence(title))

    def restore_title(self) -> None:
        if self._title is not None:
            self._title = None
            self._write(RESTORE_TITLE)

    def notify(self, alerts: list[Alert]) -> None:
        """A desktop notification for each alert, if they are on."""
        for alert in alerts:
            sequence = notification_sequence(self._desktop_notify, alert)
            if sequence:
                self._write(sequence)
