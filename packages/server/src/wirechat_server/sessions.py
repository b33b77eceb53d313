"""Users and their sessions: who holds which name, on how many connections, since when.

Without accounts, a name belongs to whoever holds it. A session is the proof that a new
connection is the same user as an earlier one: ``welcome`` gives each user a secret token, and a
``hello`` carrying it takes the name back even while an old (half-open) connection still holds
it, joining the user's other connections. The session also fixes which direct messages the user
may read: those after the moment the session began, so a newcomer who picks a free name cannot
read what was sent to its earlier holder.

Sessions live in memory. They outlive the user's last connection by ``ttl`` seconds (a reconnect
after a dropped link finds them) and at most ``max_dormant`` of them are kept; a restart forgets
them all.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from wirechat_common import ErrorCode, ProtocolError, name_key

#: Random bytes in a session token (base64url: 43 characters, within the protocol's 64).
TOKEN_BYTES = 32


class User:
    """A name in use: its session token, its connections, and the first DM id it may read."""

    __slots__ = ("connections", "dm_floor", "key", "name", "token")

    def __init__(self, name: str, dm_floor: int) -> None:
        self.name = name
        self.key = name_key(name)
        self.token = secrets.token_urlsafe(TOKEN_BYTES)
        #: Direct messages with ids above this are the user's to read.
        self.dm_floor = dm_floor
        self.connections: list[Any] = []  # a list: usually one, and a set costs 216 bytes

    def __repr__(self) -> str:
        return f"User({self.name!r}, connections={len(self.connections)})"


class Sessions:
    """Every user with a connection, and the dormant sessions of those who recently left."""

    def __init__(
        self, *, ttl: float, max_dormant: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._ttl = ttl
        self._max_dormant = max_dormant
        self._clock = clock
        self._online: dict[str, User] = {}  # by name key
        self._dormant: OrderedDict[str, tuple[User, float]] = OrderedDict()  # oldest first

    def __len__(self) -> int:
        return len(self._online)

    def online(self, key: str) -> User | None:
        """The user holding the name key ``key`` now, if any."""
        return self._online.get(key)

    def claim(self, name: str, token: str | None, dm_floor: int) -> User:
        """The user ``name`` for a new connection.

        With the right ``token`` the connection joins the user's session, online or dormant.
        Otherwise a name in use is refused (``name_taken``) and a free one starts a new session
        whose direct messages begin after ``dm_floor``.
        """
        key = name_key(name)
        user = self._online.get(key)
        if user is not None:
            if token is None or not hmac.compare_digest(token, user.token):
                raise ProtocolError(ErrorCode.NAME_TAKEN, f"the name {name!r} is taken")
            return user
        self.expire()
        dormant = self._dormant.pop(key, None)
        if (
            dormant is not None
            and token is not None
            and hmac.compare_digest(token, dormant[0].token)
        ):
            user = dormant[0]
        else:
            user = User(name, dm_floor)
        self._online[key] = user
        return user

    def release(self, user: User) -> None:
        """``user`` lost its last connection: keep its session dormant for a while."""
        if user.connections or self._online.get(user.key) is not user:
            return
        del self._online[user.key]
        self._dormant[user.key] = (user, self._clock())
        self.expire()

    def expire(self) -> None:
        """Forget dormant sessions past their time, and the oldest beyond ``max_dormant``."""
        deadline = self._clock() - self._ttl
        dormant = self._dormant
        while dormant:
            key, (_, since) = next(iter(dormant.items()))
            if since > deadline and len(dormant) <= self._max_dormant:
                break
            del dormant[key]
