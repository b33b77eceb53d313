"""Users and their sessions: who holds which name, on how many connections, since when.

Without accounts, a name belongs to whoever holds it. A session is the proof that a new
connection is the same user as an earlier one: ``welcome`` gives each user a secret token, and a
``hello`` carrying it takes the name back even while an old (half-open) connection still holds
it, joining the user's other connections. The session also fixes which direct messages the user
may read: those after the moment the session began, so a newcomer who picks a free name cannot
read what was sent to its earlier holder.

Sessions outlive the user's last connection by ``ttl`` seconds (a reconnect after a dropped link
finds them); at most ``max_dormant`` of them are kept. Given a ``persist`` callback, each session
is saved (its token only as a SHA-256 hash) whenever it starts, resumes or goes dormant, and
:meth:`Sessions.restore` brings saved ones back after a restart: a client that reconnects to the
restarted server keeps its session and its direct messages.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from wirechat_common import ErrorCode, ProtocolError, name_key

#: Random bytes in a session token (base64url: 43 characters, within the protocol's 64).
TOKEN_BYTES = 32


def token_hash(token: str) -> bytes:
    """What is kept of a session token: its SHA-256 (the token is random, so no salt or KDF)."""
    return hashlib.sha256(token.encode()).digest()


class User:
    """A name in use: its session token's hash, its connections, the first DM id it may read.

    The server does not keep the token itself: it goes to the client in its ``welcome`` and
    comes back in a ``hello``, whose token's hash is compared (0.9 MiB less at 10,000 users).
    """

    __slots__ = ("connections", "dm_floor", "key", "name", "token_hash")

    def __init__(self, name: str, dm_floor: int, hashed: bytes) -> None:
        self.name = name
        self.key = name_key(name)
        self.token_hash = hashed
        #: Direct messages with ids above this are the user's to read.
        self.dm_floor = dm_floor
        self.connections: list[Any] = []  # a list: usually one, and a set costs 216 bytes

    def __repr__(self) -> str:
        return f"User({self.name!r}, connections={len(self.connections)})"


class Sessions:
    """Every user with a connection, and the dormant sessions of those who recently left."""

    def __init__(
        self,
        *,
        ttl: float,
        max_dormant: int,
        clock: Callable[[], float] = time.monotonic,
        persist: Callable[[User, float], None] | None = None,
    ) -> None:
        """``persist(user, seen)`` saves a session; ``seen`` is wall-clock time (seconds)."""
        self._ttl = ttl
        self._max_dormant = max_dormant
        self._clock = clock
        self._persist = persist
        self._online: dict[str, User] = {}  # by name key
        self._dormant: OrderedDict[str, tuple[User, float]] = OrderedDict()  # oldest first

    def __len__(self) -> int:
        return len(self._online)

    def online(self, key: str) -> User | None:
        """The user holding the name key ``key`` now, if any."""
        return self._online.get(key)

    def claim(self, name: str, token: str | None, dm_floor: int) -> tuple[User, str]:
        """The user ``name`` for a new connection, and the session token to tell it.

        With the right ``token`` the connection joins the user's session, online or dormant,
        and is told that same token. Otherwise a name in use is refused (``name_taken``) and a
        free one starts a new session, with a new token, whose direct messages begin after
        ``dm_floor``.
        """
        key = name_key(name)
        user = self._online.get(key)
        if user is not None:
            if token is None or not _proves(token, user):
                raise ProtocolError(ErrorCode.NAME_TAKEN, f"the name {name!r} is taken")
            return user, token
        self.expire()
        dormant = self._dormant.pop(key, None)
        if dormant is not None and token is not None and _proves(token, dormant[0]):
            user = dormant[0]
        else:
            token = secrets.token_urlsafe(TOKEN_BYTES)
            user = User(name, dm_floor, token_hash(token))
        self._online[key] = user
        self._save(user)
        return user, token

    def restore(self, users: list[tuple[User, float]]) -> None:
        """Bring back saved sessions, dormant, each with its wall-clock ``seen`` time."""
        now, wall = self._clock(), time.time()
        for user, seen in sorted(users, key=lambda item: item[1]):
            if user.key not in self._online:
                self._dormant[user.key] = (user, now - max(0.0, wall - seen))
        self.expire()

    def release(self, user: User) -> None:
        """``user`` lost its last connection: keep its session dormant for a while."""
        if user.connections or self._online.get(user.key) is not user:
            return
        del self._online[user.key]
        self._dormant[user.key] = (user, self._clock())
        self._save(user)
        self.expire()

    def save_online(self) -> None:
        """Save every online session as seen now (before a shutdown, and now and then, so that
        a session in use does not expire on disk while its user is connected)."""
        for user in self._online.values():
            self._save(user)

    def _save(self, user: User) -> None:
        if self._persist is not None:
            self._persist(user, time.time())

    def expire(self) -> None:
        """Forget dormant sessions past their time, and the oldest beyond ``max_dormant``."""
        deadline = self._clock() - self._ttl
        dormant = self._dormant
        while dormant:
            key, (_, since) = next(iter(dormant.items()))
            if since > deadline and len(dormant) <= self._max_dormant:
                break
            del dormant[key]


def _proves(token: str, user: User) -> bool:
    """Whether ``token`` is ``user``'s session token (compared in constant time)."""
    return hmac.compare_digest(token_hash(token), user.token_hash)
