"""Real full disks for storage-fault tests: a tiny tmpfs, and a way to fill it."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


@contextlib.contextmanager
def small_tmpfs(parent: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` (e.g. ``"256k"``) under ``parent``: a disk that really fills up.

    Needs root (or CAP_SYS_ADMIN); the test is skipped without it.
    """
    mountpoint = parent / "disk"
    mountpoint.mkdir()
    try:
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mountpoint)],
            check=True,
            capture_output=True,
        )
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {exc}")
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], check=False, capture_output=True)


def fill(directory: Path) -> Path:
    """Take every free byte of the filesystem under ``directory``; return the file holding them."""
    filler = directory / "filler"
    with filler.open("wb", buffering=0) as out, contextlib.suppress(OSError):  # ENOSPC: full
        for _ in range(1024):
            out.write(b"\0" * 4096)
    return filler
