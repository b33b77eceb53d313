"""Nick colours: two palettes of the same size, and which colour each person gets.

A nick's colour is the one its hash picks (crc32 of its name key: the same in every process
and on every client), unless someone else present already has that colour: then it takes the
next free one. Slots are handed out in name order when the people present are first known, so
two clients looking at the same room mostly agree, and once a person has a colour they keep it
for the session. Only when every colour is held by someone present does a newcomer share one.

The palettes step 105° round the hue circle from one slot to the next, so the next free slot
(where a collision sends a nick) is a clearly different hue. Each colour's lightness is the
nearest to the middle that still gives WCAG AA contrast (4.5:1) on the lightest dark theme
background (catppuccin-frappe, nord) or on the darkest light one (textual-light's #D8D8D8);
``tests/client/test_looks.py`` checks it. The settings file's ``nick-palette`` replaces both
with the user's own list (:class:`NickColors` carries it).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from typing import Final

from wirechat_common import name_key

DARK_PALETTE: Final = (
    "#ed9797", "#64dd3c", "#7db2e8", "#ec93d6", "#dddd3c", "#3cddb4",
    "#c7a0ee", "#e99b81", "#3cdd3c", "#97aced", "#ec93bf", "#b4dd3c",
    "#3cdddd", "#d797ed", "#e3a15f", "#3cdd64", "#a8a8f0", "#ed97ac",
    "#8cdd3c", "#4dbbe0", "#eb8eeb", "#ddb43c", "#3cdd8c", "#b7a4ef",
)  # fmt: skip
LIGHT_PALETTE: Final = (
    "#bc1515", "#236a0c", "#135eaa", "#ae1388", "#60600b", "#0c6a52",
    "#7f19e6", "#a53712", "#0c6e0c", "#194ce6", "#b31463", "#4f650b",
    "#0b6565", "#9615c1", "#8a4c0f", "#0c6e25", "#1919e6", "#b8143d",
    "#3b6a0c", "#0e6481", "#a512a5", "#73590d", "#0c6a3b", "#4d19e6",
)  # fmt: skip


def palette_for(dark: bool) -> tuple[str, ...]:
    """The palette for a dark or a light background."""
    return DARK_PALETTE if dark else LIGHT_PALETTE


def hashed_slot(nick: str, size: int = len(DARK_PALETTE)) -> int:
    """The slot ``nick``'s hash picks, before collisions are avoided."""
    return zlib.crc32(name_key(nick).encode()) % size


def nick_color(nick: str, palette: tuple[str, ...]) -> str:
    """The colour ``nick``'s hash picks in ``palette`` (with no one else to avoid)."""
    return palette[hashed_slot(nick, len(palette))]


class NickColors:
    """The palette slot of each person seen in this session (one table for every
    conversation, so a person has one colour everywhere)."""

    def __init__(self, size: int = len(DARK_PALETTE), custom: tuple[str, ...] = ()) -> None:
        self.custom = custom  # the settings file's nick-palette: used on any background
        self.size = len(custom) if custom else size
        self._slots: dict[str, int] = {}  # name key -> slot
        self._holders: dict[int, str] = {}  # slot -> name key
        self._present: frozenset[str] = frozenset()

    def present(self, names: Iterable[str]) -> None:
        """The people present in the conversation shown: they keep their colours, those not
        yet coloured get theirs (in name order), and no two of them share one while there are
        colours to go round."""
        keys = sorted({name_key(name) for name in names})
        self._present = frozenset(keys)
        for key in keys:
            if key not in self._slots:
                self._assign(key)

    def palette(self, dark: bool) -> tuple[str, ...]:
        """The colours for a dark or a light background: the user's own, if they gave any."""
        return self.custom or palette_for(dark)

    def slot(self, nick: str) -> int:
        key = name_key(nick)
        slot = self._slots.get(key)
        return slot if slot is not None else self._assign(key)

    def color(self, nick: str, palette: tuple[str, ...]) -> str:
        return palette[self.slot(nick) % len(palette)]

    def _assign(self, key: str) -> int:
        wanted = zlib.crc32(key.encode()) % self.size
        order = [(wanted + step) % self.size for step in range(self.size)]
        slot = next((s for s in order if s not in self._holders), None)
        if slot is None and key in self._present:
            # Someone present needs a colour more than someone gone: theirs is reused (they
            # get another if they come back).
            slot = next((s for s in order if self._holders[s] not in self._present), None)
            if slot is not None:
                del self._slots[self._holders[slot]]
        if slot is None:
            slot = wanted  # every colour is held by someone present: share the hashed one
        else:
            self._holders[slot] = key
        self._slots[key] = slot
        return slot
