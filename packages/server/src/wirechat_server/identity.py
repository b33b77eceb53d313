"""Identity: who a ``hello`` proves its sender to be, apart from any connection.

A :class:`User` is an identity: a name, its key, and what proves it (the hash of a session token
today; an account next). :class:`Identities` is the interface that turns a ``hello`` into a user;
:class:`~.sessions.Sessions` implements it with session tokens. Which connections a user has is
presence's business (:mod:`.presence`), not the identity's.
"""

from __future__ import annotations

from typing import Protocol

from wirechat_common import name_key


class User:
    """A name in use or recently used: its key, its session token's hash, the first direct
    message id it may read.

    The server does not keep the token itself: it goes to the client in its ``welcome`` and
    comes back in a ``hello``, whose token's hash is compared (0.9 MiB less at 10,000 users).
    """

    __slots__ = ("dm_floor", "key", "name", "origin", "token_hash")

    def __init__(self, name: str, dm_floor: int, hashed: bytes, origin: str = "") -> None:
        self.name = name
        self.key = name_key(name)
        self.token_hash = hashed
        #: Direct messages with ids above this are the user's to read.
        self.dm_floor = dm_floor
        #: Where the session began (:mod:`.addresses`; ``""``: exempt or not known, as for a
        #: session restored after a restart): its share of the dormant sessions is counted so.
        self.origin = origin

    def __repr__(self) -> str:
        return f"User({self.name!r})"


class Identities(Protocol):
    """Turns a ``hello`` into a user, and keeps users between their connections."""

    def claim(
        self, name: str, token: str | None, dm_floor: int, origin: str = ""
    ) -> tuple[User, str]:
        """The user a new connection asking for ``name`` with ``token`` is, and the token to
        tell it; raises ``ProtocolError`` (``name_taken``) if the name is someone else's.
        ``dm_floor``: where a new user's direct messages begin; ``origin``: where the
        connection comes from (:mod:`.addresses`)."""
        ...

    def release(self, user: User) -> None:
        """``user`` lost its last connection: keep it for a while, for a reconnect."""
        ...

    def save_online(self) -> None:
        """Save the users online as seen now (before a shutdown, and now and then)."""
        ...

    def restore(self, users: list[tuple[User, float]]) -> None:
        """Bring back users saved before a restart, each with its wall-clock last-seen time."""
        ...
