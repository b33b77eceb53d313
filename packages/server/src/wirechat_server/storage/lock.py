"""One server per message store: an exclusive lock on a file beside the database.

Two servers on one database would each keep their own id counter and, from the first collision
on, one of them would refuse every message while still accepting users. So the store takes an
exclusive ``flock`` on ``<database>.lock`` before it opens anything, and holds it until it
closes. The kernel drops the lock when the process dies, however it dies, so a crashed server
never leaves a stale lock behind; the process id written into the file is only there to name
the holder in the refusal.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from .model import StoreError


class StoreInUse(StoreError):  # noqa: N818 - reads as the refusal it is, like StoreBusy
    """Another process holds the store's lock."""


class StoreLock:
    """The held lock of one store; :meth:`release` (or process exit) lets it go."""

    def __init__(self, path: Path, descriptor: int) -> None:
        self.path = path
        self._descriptor: int | None = descriptor

    @classmethod
    def take(cls, database: Path) -> StoreLock:
        """Lock ``database`` for this process, or raise :class:`StoreInUse` naming the holder
        (or :class:`StoreError` if the lock file cannot be opened at all)."""
        path = database.with_name(database.name + ".lock")
        try:
            descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise StoreError(f"cannot open the lock file {path}: {exc.strerror}") from exc
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(descriptor)
            os.close(descriptor)
            raise StoreInUse(
                f"{database} is in use by another wirechat server"
                f"{f' (process {holder})' if holder else ''}; "
                "give each server its own --data-dir"
            ) from None
        except OSError as exc:
            os.close(descriptor)
            raise StoreError(f"cannot lock {path}: {exc.strerror}") from exc
        os.ftruncate(descriptor, 0)
        os.write(descriptor, f"{os.getpid()}\n".encode())
        return cls(path, descriptor)

    def release(self) -> None:
        """Let the lock go (idempotent). The file stays: removing it could let a third server
        lock a new file while a second still waits on the old one."""
        if self._descriptor is not None:
            descriptor, self._descriptor = self._descriptor, None
            fcntl.flock(descriptor, fcntl.LOCK_UN)
            os.close(descriptor)


def _read_holder(descriptor: int) -> str:
    try:
        return os.pread(descriptor, 32, 0).decode(errors="replace").strip()
    except OSError:
        return ""
