"""Every conversation, in the order the list shows them, and which one is on screen.

Rooms come first (sorted by name, case-insensitively), then direct-message conversations
(sorted by the peer's name). When there is none at all, a placeholder conversation ("home")
holds the notes, so there is always somewhere to show them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import tzinfo

from wirechat_common import name_key, room_key, sanitize_text

from .conversation import Conversation, Kind
from .lines import DEFAULT_TIME_FORMAT


def direct_key(peer: str) -> str:
    return f"@{name_key(peer)}"


class Conversations:
    """The registry. ``on_add`` is told of each new conversation (home first), before
    anything is put in it, so that the UI can give it a widget; ``on_drop`` is told when one
    goes. ``tz`` is the time zone every conversation tells times in, ``time_format`` how
    (strftime)."""

    def __init__(
        self,
        on_add: Callable[[Conversation], None],
        on_drop: Callable[[Conversation], None],
        now: Callable[[], int],
        tz: tzinfo | None = None,
        time_format: str = DEFAULT_TIME_FORMAT,
        smart_filter_ms: int = 0,
    ) -> None:
        self._on_add = on_add
        self._on_drop = on_drop
        self._now = now
        self._tz = tz
        self._time_format = time_format
        self._smart_filter_ms = smart_filter_ms
        self.home = Conversation("", "wirechat", Kind.HOME, now, tz, time_format)
        self.current = self.home
        self._by_key: dict[str, Conversation] = {}
        on_add(self.home)

    def __len__(self) -> int:
        return len(self._by_key)

    def get(self, key: str) -> Conversation | None:
        return self._by_key.get(key)

    def find_room(self, room: str) -> Conversation | None:
        return self._by_key.get(room_key(room))

    def find_direct(self, peer: str) -> Conversation | None:
        return self._by_key.get(direct_key(peer))

    def room(self, room: str) -> Conversation:
        """The conversation of ``room``, new if need be."""
        return self._get_or_add(room_key(room), room, Kind.ROOM)

    def direct(self, peer: str) -> Conversation:
        """The conversation with ``peer``, new if need be."""
        conversation = self._get_or_add(direct_key(peer), peer, Kind.DIRECT)
        conversation.name = sanitize_text(peer)  # the way they spell it now
        return conversation

    def _get_or_add(self, key: str, name: str, kind: Kind) -> Conversation:
        conversation = self._by_key.get(key)
        if conversation is None:
            conversation = Conversation(
                key, name, kind, self._now, self._tz, self._time_format, self._smart_filter_ms
            )
            self._by_key[key] = conversation
            self._on_add(conversation)
        return conversation

    def drop(self, conversation: Conversation) -> None:
        """Forget ``conversation``; if it was shown, its neighbour (or home) is shown instead."""
        if self._by_key.get(conversation.key) is not conversation:
            return
        if conversation is self.current:
            listed = self.listed()
            index = listed.index(conversation)
            rest = listed[:index] + listed[index + 1 :]
            self.current = rest[min(index, len(rest) - 1)] if rest else self.home
        del self._by_key[conversation.key]
        self._on_drop(conversation)

    def listed(self) -> list[Conversation]:
        """The conversations in list order."""
        return sorted(
            self._by_key.values(), key=lambda c: (c.kind is not Kind.ROOM, name_key(c.key))
        )

    def all(self) -> list[Conversation]:
        """Every conversation, home included."""
        return [self.home, *self._by_key.values()]

    def step(self, offset: int) -> Conversation:
        """The conversation ``offset`` places from the current one, wrapping around."""
        listed = self.listed()
        if not listed:
            return self.home
        if self.current not in listed:
            return listed[0]
        return listed[(listed.index(self.current) + offset) % len(listed)]

    def number(self, n: int) -> Conversation | None:
        """The ``n``-th conversation of the list (from 1), if there are that many."""
        listed = self.listed()
        return listed[n - 1] if 0 < n <= len(listed) else None

    def next_active(self) -> Conversation | None:
        """The next conversation (after the current one, wrapping) with unread messages, one
        that mentions us first, as irssi's Alt+A does; ``None`` when all are read."""
        listed = self.listed()
        start = listed.index(self.current) + 1 if self.current in listed else 0
        ordered = listed[start:] + listed[:start]
        active = [c for c in ordered if c.unread and c is not self.current]
        return next((c for c in active if c.mentioned), active[0] if active else None)
