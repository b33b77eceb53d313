"""Session tokens: how a ``hello`` proves its sender is a user seen before (``Identities``).

Without accounts, a name belongs to whoever holds it (presence knows who does). A session is the
proof that a new connection is the same user as an earlier one: ``welcome`` gives each user a
secret token, and a ``hello`` carrying it takes the name back even while an old (half-open)
connection still holds it, joining the user's other connections. The session also fixes which
direct messages the user may read: those after the moment the session began, so a newcomer who
picks a free name cannot read what was sent to its earlier holder.

Sessions outlive the user's last connection by ``ttl`` seconds (a reconnect after a dropped link
finds them); at most ``max_dormant`` of them are kept, and at most ``max_dormant_per_origin``
of those begun from one origin (an address prefix, :mod:`.addresses`): past it, that origin's
own oldest go first, so a burst of throwaway registrations from a few addresses cannot evict
everyone else's sessions. Given a ``persist`` callback, each session
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

from .identity import User
from .presence import Presence

#: Random bytes in a session token (base64url: 43 characters, within the protocol's 64).
TOKEN_BYTES = 32


def token_hash(token: str) -> bytes:
    """What is kept of a session token: its SHA-256 (the token is random, so no salt or KDF)."""
    return hashlib.sha256(token.encode()).digest()


class Sessions:
    """Identities proven by session tokens (see :class:`~.identity.Identities`): the names held
    by those online (as ``presence`` tells) and the dormant sessions of those who recently
    left."""

    def __init__(
        self,
        *,
        presence: Presence[Any],
        ttl: float,
        max_dormant: int,
        max_dormant_per_origin: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        persist: Callable[[User, float], None] | None = None,
    ) -> None:
        """``persist(user, seen)`` saves a session; ``seen`` is wall-clock time (seconds)."""
        self._ttl = ttl
        self._max_dormant = max_dormant
        self._per_origin = max_dormant_per_origin
        # Per origin, its dormant sessions' keys, oldest first (exempt origins are not kept).
        self._by_origin: dict[str, OrderedDict[str, None]] = {}
        self._clock = clock
        self._persist = persist
        self._presence = presence
        self._dormant: OrderedDict[str, tuple[User, float]] = OrderedDict()  # oldest first

    def claim(
        self, name: str, token: str | None, dm_floor: int, origin: str = ""
    ) -> tuple[User, str]:
        """The user ``name`` for a new connection, and the session token to tell it.

        With the right ``token`` the connection joins the user's session, online or dormant,
        and is told that same token. Otherwise a name in use is refused (``name_taken``) and a
        free one starts a new session, with a new token, whose direct messages begin after
        ``dm_floor``.
        """
        key = name_key(name)
        user = self._presence.user(key)
        if user is not None:
            if token is None or not _proves(token, user):
                raise ProtocolError(ErrorCode.NAME_TAKEN, f"the name {name!r} is taken")
            return user, token
        self.expire()
        dormant = self._forget(key)
        if dormant is not None and token is not None and _proves(token, dormant):
            user = dormant
        else:
            token = secrets.token_urlsafe(TOKEN_BYTES)
            user = User(name, dm_floor, token_hash(token), origin)
        self._save(user)
        return user, token

    def restore(self, users: list[tuple[User, float]]) -> None:
        """Bring back saved sessions, dormant, each with its wall-clock ``seen`` time."""
        now, wall = self._clock(), time.time()
        for user, seen in sorted(users, key=lambda item: item[1]):
            if self._presence.user(user.key) is None:
                self._keep(user, now - max(0.0, wall - seen))
        self.expire()

    def release(self, user: User) -> None:
        """``user`` lost its last connection: keep its session dormant for a while."""
        if self._presence.user(user.key) is not None:
            return  # online again (or its name is someone else's now, who keeps it)
        self._keep(user, self._clock())
        self._save(user)
        self.expire()

    def save_online(self) -> None:
        """Save every online session as seen now (before a shutdown, and now and then, so that
        a session in use does not expire on disk while its user is connected)."""
        for user in self._presence.users():
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
            self._forget(key)

    def _keep(self, user: User, since: float) -> None:
        """Keep ``user``'s session dormant from ``since``; past its origin's share, that
        origin's oldest dormant session goes."""
        self._forget(user.key)
        self._dormant[user.key] = (user, since)
        if not user.origin or self._per_origin is None:
            return
        keys = self._by_origin.setdefault(user.origin, OrderedDict())
        keys[user.key] = None
        if len(keys) > self._per_origin:
            self._forget(next(iter(keys)))

    def _forget(self, key: str) -> User | None:
        """Drop the dormant session of ``key``, if any; return its user."""
        entry = self._dormant.pop(key, None)
        if entry is None:
            return None
        user = entry[0]
        keys = self._by_origin.get(user.origin)
        if keys is not None:
            keys.pop(key, None)
            if not keys:
                del self._by_origin[user.origin]
        return user


def _proves(token: str, user: User) -> bool:
    """Whether ``token`` is ``user``'s session token (compared in constant time)."""
    return hmac.compare_digest(token_hash(token), user.token_hash)
