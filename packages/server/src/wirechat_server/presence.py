"""Presence: who is online, under which name, on which connections.

It is what a welcome lists, what ``who`` answers, what owns a name while its user is connected,
and where a direct message goes (every connection of its recipient). :class:`Presence` is the
interface the core uses; :class:`LocalPresence` keeps it in this process. A version over a shared
engine (several server processes) would implement the same methods.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from typing import Generic, Protocol, TypeVar

from wirechat_common import name_key

from .identity import User

C = TypeVar("C")


class Presence(Protocol[C]):
    """Who is online, and on which connections (of type ``C``)."""

    def __len__(self) -> int:
        """How many users are online."""
        ...

    def user(self, key: str) -> User | None:
        """The user online under the name key ``key``, if any."""
        ...

    def users(self) -> Iterator[User]:
        """Everyone online."""
        ...

    def names(self) -> list[str]:
        """The names of everyone online, sorted case-insensitively (the list is kept sorted, so
        this is the live list: copy it to keep it)."""
        ...

    def connections(self, user: User) -> list[C]:
        """``user``'s connections, oldest first (empty when it is not online)."""
        ...

    def attach(self, user: User, connection: C) -> None:
        """``connection`` is now ``user``'s (the first one brings the user online)."""
        ...

    def detach(self, user: User, connection: C) -> bool:
        """``connection`` is no longer ``user``'s; whether that was its last (it is offline)."""
        ...


class LocalPresence(Generic[C]):
    """Presence within this process."""

    def __init__(self) -> None:
        self._users: dict[str, User] = {}  # by name key
        # By name key; a list, not a set: usually one connection, and a set costs 216 bytes.
        self._connections: dict[str, list[C]] = {}
        self._names: list[str] = []  # display names of everyone online, sorted by name key

    def __len__(self) -> int:
        return len(self._users)

    def user(self, key: str) -> User | None:
        return self._users.get(key)

    def users(self) -> Iterator[User]:
        return iter(list(self._users.values()))

    def names(self) -> list[str]:
        return self._names

    def connections(self, user: User) -> list[C]:
        if self._users.get(user.key) is not user:
            return []
        return self._connections.get(user.key, [])

    def attach(self, user: User, connection: C) -> None:
        key = user.key
        held = self._users.get(key)
        if held is None:
            self._users[key] = user
            self._connections[key] = [connection]
            bisect.insort(self._names, user.name, key=name_key)
            return
        if held is not user:
            raise ValueError(f"the name {user.name!r} is held by another user")
        self._connections[key].append(connection)

    def detach(self, user: User, connection: C) -> bool:
        key = user.key
        connections = self._connections.get(key)
        if self._users.get(key) is not user or connections is None or connection not in connections:
            return False
        connections.remove(connection)
        if connections:
            return False
        del self._users[key], self._connections[key]
        del self._names[bisect.bisect_left(self._names, key, key=name_key)]
        return True
