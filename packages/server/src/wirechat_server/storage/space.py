"""Room on the disk: a cap on the store's size and a floor under the disk's free space.

A full disk is survived (a failed commit stores nothing and the next one tries again), but a
server should stop taking messages before it gets there: the disk is shared with the rest of
the machine, and a store may be given a size it must not pass. Past either limit new messages
are refused (``storage_full``) while everything else, reading history included, goes on. The
check costs a ``stat`` of two files and a ``statvfs``, so it is made at most once per
:data:`CHECK_EVERY` seconds, not for every message.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Final

#: Seconds a space check stays valid: a burst of messages costs one check, and a store that
#: passed its limit starts taking messages again within this long of space being freed.
CHECK_EVERY: Final = 1.0


class SpaceGuard:
    """Says whether there is room for new messages in the database at ``path``."""

    def __init__(
        self,
        path: Path,
        *,
        max_bytes: int = 0,
        min_free: int = 0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``max_bytes``: the most the database (with its write-ahead log) may take; 0: no cap.
        ``min_free``: the free bytes the disk must keep; 0: none."""
        self._path = path
        self._max_bytes = max_bytes
        self._min_free = min_free
        self._clock = clock
        self._checked = float("-inf")
        self._problem: str | None = None

    def problem(self) -> str | None:
        """Why new messages cannot be taken now (``None``: they can)."""
        if not (self._max_bytes or self._min_free):
            return None
        now = self._clock()
        if now - self._checked >= CHECK_EVERY:
            self._checked = now
            self._problem = self._look()
        return self._problem

    def _look(self) -> str | None:
        if self._max_bytes:
            size = sum(_size(self._path.with_name(self._path.name + end)) for end in ("", "-wal"))
            if size >= self._max_bytes:
                return f"the message store is at its size limit ({size:,} bytes)"
        if self._min_free:
            try:
                stats = os.statvfs(self._path.parent)
            except OSError:
                return None  # cannot tell: let the commit find out
            free = stats.f_bavail * stats.f_frsize
            if free < self._min_free:
                return f"the disk has {free:,} bytes free, under the floor of {self._min_free:,}"
        return None


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0
