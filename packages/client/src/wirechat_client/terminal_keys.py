"""Alt with a digit, as a terminal sends it, reported as ``alt+1`` rather than as a character.

In xterm, tmux, GNOME Terminal and most others Alt+1 sends ESC then ``1``. Textual maps that
sequence to ``¡`` (and Alt+2 to ``™``, Alt+3 to ``£``...), the characters Option+digit types on
a US Mac keyboard, for WezTerm on macOS (``textual/_ansi_sequences.py``, "Opt and keys on the top
numeric row"). A chat client wants the key: Alt+digit picks a conversation, as in irssi and
WeeChat. Removing those entries lets Textual's parser fall back to its general rule, ESC then a
character is Alt with that character. A ``¡`` typed as such (a Spanish keyboard has a key for
it) arrives as that character, not as ESC ``1``, so it still types ``¡``.
"""

from __future__ import annotations

from typing import Final

from textual._ansi_sequences import ANSI_SEQUENCES_KEYS

#: The sequences of Alt+0..9, Alt+- and Alt+=: ESC, then the key's own character.
ALT_DIGIT_SEQUENCES: Final = tuple(f"\x1b{key}" for key in "0123456789-=")


def report_alt_digits() -> None:
    """Make Textual report ESC+digit as ``alt+DIGIT``; for the whole process, idempotent."""
    for sequence in ALT_DIGIT_SEQUENCES:
        ANSI_SEQUENCES_KEYS.pop(sequence, None)  # type: ignore[attr-defined]
