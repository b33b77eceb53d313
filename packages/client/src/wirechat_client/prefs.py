"""The last server, name, theme and panes (F2, F3) used, remembered in a small JSON file.

The file lives at ``$XDG_CONFIG_HOME/wirechat/client.json`` (``~/.config`` when unset). It is a
convenience, so a missing, unreadable or corrupt file is treated as empty, never as an error,
and it is replaced atomically so a crash mid-write cannot leave half a file behind.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from .config import config_dir

#: Longest value kept: the file is ours, but a hand-edited one must not fill the screen.
_MAX_VALUE = 256


@dataclass(frozen=True, slots=True)
class Remembered:
    """What the connect screen offers next time."""

    server: str | None = None
    name: str | None = None
    theme: str | None = None
    # The user's last F2 / F3: "shown" or "hidden"; None until then (the width decides).
    users: str | None = None
    rooms: str | None = None


def default_path(environ: Mapping[str, str] | None = None) -> Path:
    """Where the file lives: beside the settings file."""
    return config_dir(environ) / "client.json"


class Prefs:
    """Load and save :class:`Remembered` at ``path``; with ``path=None`` nothing is kept."""

    def __init__(self, path: Path | None) -> None:
        self.path = path

    def load(self) -> Remembered:
        if self.path is None:
            return Remembered()
        try:
            data: Any = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return Remembered()
        if not isinstance(data, dict):
            return Remembered()
        values = {
            key: value
            for key, value in data.items()
            if key in Remembered.__dataclass_fields__
            and isinstance(value, str)
            and len(value) <= _MAX_VALUE
        }
        return Remembered(**values)

    def save(self, **changes: str) -> None:
        """Update some values; failures (read-only home, full disk) are ignored."""
        if self.path is None:
            return
        remembered = replace(self.load(), **changes)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temporary = self.path.with_suffix(".tmp")
            temporary.write_text(json.dumps(asdict(remembered), indent=2) + "\n", "utf-8")
            os.replace(temporary, self.path)
        except OSError:
            pass
