"""Our lines on their way to the server: waiting to be sent, or sent and awaiting their ack.

Every line gets a ``client_id`` once, when typed, and keeps it for good: a line whose ack was
lost with the connection is sent again with the same ``client_id``, so a server that stored it
the first time answers the resend with the original's ack (``duplicate``) instead of storing it
twice. The ids start with a random prefix per :class:`Outbox`: servers remember ids for a day
per user, and a plain counter would make tomorrow's ``c1`` a "duplicate" of today's.
"""

from __future__ import annotations

import itertools
import secrets
from collections import deque
from typing import Final

from wirechat_common import Say

#: Lines typed while offline that are kept to be sent after reconnecting. It matches the
#: server's default burst: past it the server delays requests, and past its backlog it cuts the
#: client off for flooding, so a longer queue would get us kicked right after reconnecting.
MAX_OUTBOX: Final = 10


class Outbox:
    """Lines not yet acknowledged, in the order they were typed."""

    def __init__(self, limit: int = MAX_OUTBOX, prefix: str | None = None) -> None:
        self.limit = limit
        self._prefix = prefix if prefix is not None else secrets.token_hex(4)
        self._ids = itertools.count(1)
        self._queued: deque[Say] = deque()  # to send once online
        self._unacked: dict[str, Say] = {}  # sent on this connection, no answer yet

    def __len__(self) -> int:
        return len(self._queued) + len(self._unacked)

    def new(
        self, text: str, *, action: bool = False, room: str | None = None, to: str | None = None
    ) -> Say:
        """A line with a fresh ``client_id``."""
        client_id = f"{self._prefix}-{next(self._ids)}"
        return Say(text=text, action=action, client_id=client_id, room=room, to=to)

    def queue(self, say: Say) -> bool:
        """Keep ``say`` to send once online; false when the outbox is full."""
        if len(self) >= self.limit:
            return False
        self._queued.append(say)
        return True

    def waiting(self) -> int:
        """Lines queued, not yet sent on this connection."""
        return len(self._queued)

    def follow(self, say: Say) -> None:
        """Queue ``say`` behind the lines still being resent, however many: it was typed
        online, so it does not count against the offline limit, but must not overtake them."""
        self._queued.append(say)

    def next(self) -> Say | None:
        """The oldest queued line, taken out of the queue (to be :meth:`sent`)."""
        return self._queued.popleft() if self._queued else None

    def sent(self, say: Say) -> None:
        """``say`` went out: wait for its ack (or refusal)."""
        assert say.client_id is not None
        self._unacked[say.client_id] = say

    def settle(self, client_id: str | None) -> Say | None:
        """The server answered the line ``client_id`` (an ack or a refusal); return it."""
        if client_id is None:
            return None
        return self._unacked.pop(client_id, None)

    def connection_lost(self) -> None:
        """The lines sent but not acknowledged go back to the front, to be sent again."""
        self._queued.extendleft(reversed(self._unacked.values()))
        self._unacked.clear()

    def drain(self) -> list[Say]:
        """Every queued line, oldest first, taken out of the queue."""
        lines = list(self._queued)
        self._queued.clear()
        return lines

    def pending_ids(self) -> tuple[str, ...]:
        """The ``client_id`` of every line not yet acknowledged."""
        ids = [say.client_id for say in (*self._queued, *self._unacked.values())]
        return tuple(client_id for client_id in ids if client_id is not None)
