"""The keys the settings file's ``[keys]`` table may rebind, and the check of what it gives.

Each rebindable key binding carries an id (``Binding(..., id=...)``): the name the table uses.
The app hands the table to Textual's keymap (:meth:`textual.app.App.set_keymap`), which swaps
the keys of the bindings with those ids; a binding's old keys stop working. The names live here,
free of Textual, so that the settings file is checked before Textual loads.
"""

from __future__ import annotations

import unicodedata
from typing import Final

#: The rebindable actions: the table's names and what each does (for the error message).
KEY_ACTIONS: Final[dict[str, str]] = {
    "help": "F1",
    "toggle-users": "F2",
    "toggle-rooms": "F3",
    "command-palette": "F4",
    "previous-conversation": "Ctrl+P, Alt+Up",
    "next-conversation": "Ctrl+N, Alt+Down",
    "next-active": "Alt+A",
    **{f"conversation-{n}": f"Alt+{n % 10}" for n in range(1, 11)},
    "redraw": "Ctrl+L",
    "search": "Ctrl+R",
    "scroll-up": "PageUp",
    "scroll-down": "PageDown",
    "latest": "Ctrl+End",
    "quit": "Ctrl+Q",
}

MODIFIERS: Final = ("ctrl", "alt", "shift", "super", "meta", "hyper")

#: Key names beyond single characters (Textual's, as in its ``Keys``).
_NAMED: Final = frozenset(
    {
        "escape", "enter", "tab", "backspace", "delete", "insert", "space",
        "up", "down", "left", "right", "home", "end", "pageup", "pagedown",
        *(f"f{n}" for n in range(1, 25)),
    }
)  # fmt: skip


def key_problem(key: str) -> str | None:
    """Why ``key`` (such as ``ctrl+n``, ``alt+down``, ``f5``, ``question_mark``) is not a
    key Textual can bind, or None if it is one."""
    *modifiers, name = key.split("+")
    bad = [m for m in modifiers if m not in MODIFIERS]
    if bad or len(set(modifiers)) != len(modifiers):
        return f"{key!r}: modifiers are {', '.join(MODIFIERS)}, each once"
    if len(name) == 1 and name.isprintable() and name not in " ,":
        return None
    if name in _NAMED:
        return None
    try:  # Textual names punctuation by its Unicode name: "question_mark", "full_stop"
        unicodedata.lookup(name.replace("_", " "))
    except KeyError:
        return f"{key!r}: {name!r} is not a key (a character, f1..f24, up, pageup, escape, ...)"
    return None


def parse_keys(value: object) -> str | None:
    """A ``[keys]`` value (``"ctrl+n"``, ``"ctrl+n,alt+down"`` or a list of keys) as the
    comma-joined keys Textual's keymap takes; None if it is neither a string nor a list of them."""
    if isinstance(value, str):
        keys = value.split(",")
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        keys = list(value)
    else:
        return None
    keys = [_lowered(k.strip()) for k in keys]
    return ",".join(keys) if keys and all(keys) else None


def _lowered(key: str) -> str:
    """``Ctrl+PageUp`` as ``ctrl+pageup``; a last part of one character keeps its case."""
    *modifiers, name = key.split("+")
    return "+".join([m.lower() for m in modifiers] + [name if len(name) == 1 else name.lower()])
