"""What the core needs of a registered connection."""

from __future__ import annotations

from typing import Protocol

from ..fanout import Member
from ..identity import User


class Client(Member, Protocol):
    """A connection as the core sees it: a fan-out member with a user, which can hold its output
    while a history page is read."""

    name: str
    user: User | None

    @property
    def origin(self) -> str:
        """Where the client comes from, as the per-address limits count it (an address
        prefix, :mod:`..addresses`; ``""`` if exempt)."""
        ...

    def hold(self) -> None:
        """Keep what is delivered from now on until :meth:`release`; read no more requests."""
        ...

    def release(self, first: bytes) -> None:
        """Write ``first``, then what was held, and carry on."""
        ...

    def output_room(self) -> int:
        """Bytes that may still be written to the client before its unsent output (what it
        was sent and has not read, and what is held for it) passes its bound."""
        ...
