"""Keys as a terminal delivers them when they come faster than the app reads them.

:meth:`Pilot.press` waits for the app to go idle after every key, so it never shows what happens
when one read from the terminal holds several keys (a paste without bracketed paste, a laggy ssh
session, ``tmux send-keys``). :func:`burst` hands the driver all the keys at once, as Textual's
terminal driver does with the keys it parsed from one read.
"""

from __future__ import annotations

from typing import Any

from textual import events
from textual.app import App
from textual.keys import _character_to_key

#: The characters a terminal sends for the named keys a burst may hold.
_CHARACTERS = {"enter": "\r", "tab": "\t", "backspace": "\x7f", "escape": "\x1b"}


def key_event(key: str) -> events.Key:
    """The event Textual makes for ``key``: a character (``"a"``, ``" "``) or a key name."""
    if len(key) == 1:
        return events.Key(_character_to_key(key), key)
    return events.Key(key, _CHARACTERS.get(key))


def burst(app: App[Any], *keys: str) -> None:
    """Post every key of ``keys`` to ``app`` in one go, without waiting in between."""
    driver = app._driver
    assert driver is not None, "the app is not running"
    for key in keys:
        event = key_event(key)
        event.set_sender(app)
        driver.send_message(event)


def typed(text: str) -> list[str]:
    """``text`` as the keys that type it; ``\\n`` is Enter."""
    return ["enter" if character == "\n" else character for character in text]
