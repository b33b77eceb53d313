"""History: pages of stored messages, and answers that carry them in a client's stream.

Pages are read off the loop, by the message log. While one is read, the connection holds its
output (:meth:`Client.hold <.client.Client.hold>`); the page is then written first and what
arrived meanwhile after it (:meth:`Client.release <.client.Client.release>`), so a page sits in
the stream exactly where its request was handled. Pages stop at the highest id already relayed
when the request was handled: everything above it reaches the connection live, so nothing is
sent twice or skipped.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from wirechat_common import Error, ErrorCode, Message, ProtocolError
from wirechat_common import History as HistoryPage

from ..bus import Bus
from ..fanout import Group
from ..identity import User
from ..presence import Presence
from ..storage.log import MessageLog
from ..storage.model import PageQuery, StoredMessage, StoreUnavailable, dm_members, dm_room
from .client import Client
from .messages import shown
from .relay import Relay
from .rooms import Rooms
from .settings import ChatSettings

#: One page to read for a client, and how to frame it: (the query, what to call the page in its
#: history frame, how many messages to show at most, whether the page runs backwards).
Page = tuple[PageQuery, str, int, bool]

#: What an answer is made of: frames already rendered for the client, and pages to read.
Frames = list[bytes | Page]


class History:
    """Answers ``get_history``, and reads the pages of other answers (welcome, join)."""

    def __init__(
        self,
        *,
        bus: Bus[Group, Client],
        log: MessageLog | None,
        presence: Presence[Client],
        rooms: Rooms,
        relay: Relay,
        settings: ChatSettings,
        warn: Callable[[str], None],
    ) -> None:
        self._bus = bus
        self._log = log
        self._presence = presence
        self._rooms = rooms
        self._relay = relay
        self._settings = settings
        self._warn = warn

    def history(
        self,
        client: Client,
        conversation: str,
        *,
        before: int | None = None,
        after: int | None = None,
        limit: int | None = None,
    ) -> None:
        """Answer ``get_history`` with one page of a room the client is in, or of its DMs."""
        settings = self._settings
        if limit is None:
            limit = settings.history_on_join
        elif limit > settings.max_history:
            raise ProtocolError(
                ErrorCode.HISTORY_WINDOW_TOO_LARGE,
                f"at most {settings.max_history} messages a page, not {limit}",
                room=conversation,
            )
        user = client.user
        assert user is not None
        if conversation.startswith("@"):
            key = conversation[1:].lower()
            stored_as = "@" if not key else dm_room(user.key, key)
        else:
            stored_as = self._rooms.member_room(client, conversation).key
        if after is not None:
            page = self.after(stored_as, conversation, after, user, limit)
        elif before is not None:
            page = self.before(stored_as, conversation, before, user, limit)
        else:
            page = self.recent(stored_as, conversation, limit, user)
        self.answer(client, [page])

    # -- pages -------------------------------------------------------------------------------

    def recent(self, stored_as: str, shown_as: str, limit: int, user: User) -> Page:
        """The newest ``limit`` messages of a conversation."""
        return self.before(stored_as, shown_as, self._relay.delivered_id + 1, user, limit)

    def before(self, stored_as: str, shown_as: str, before: int, user: User, limit: int) -> Page:
        """The newest ``limit`` messages below id ``before``."""
        below = min(before, self._relay.delivered_id + 1)
        return _query(stored_as, shown_as, 0, below, limit, user, newest=True)

    def after(
        self, stored_as: str, shown_as: str, after: int, user: User, limit: int | None = None
    ) -> Page:
        """The oldest ``limit`` messages above id ``after`` (what a client missed)."""
        limit = self._settings.max_history if limit is None else limit
        below = self._relay.delivered_id + 1
        return _query(stored_as, shown_as, after, below, limit, user, newest=False)

    # -- answers -----------------------------------------------------------------------------

    def answer(self, client: Client, frames: Frames) -> None:
        """Send ``frames`` in the client's stream now, reading the pages among them first."""
        pages = [frame for frame in frames if isinstance(frame, tuple)]
        log = self._log
        if not pages or log is None:
            stream = self._bus.cut(client)
            data = self._render(client, frames, [[] for _ in pages])
            client.deliver(stream + data)
            return
        # Everything owed so far goes first; what comes during the read waits behind the pages.
        stream = self._bus.cut(client)
        if stream:
            client.deliver(stream)
        client.hold()
        try:
            outcome = log.pages([page[0] for page in pages])
        except StoreUnavailable:
            client.release(self._render(client, frames, None))
            return
        outcome.add_done_callback(functools.partial(self._pages_read, client, frames))

    def _pages_read(self, client: Client, frames: Frames, outcome: Any) -> None:
        try:
            results: list[list[StoredMessage]] | None = outcome.result()
        except StoreUnavailable as exc:
            self._warn(f"history read failed name={client.name}: {exc}")
            results = None
        client.release(self._render(client, frames, results))

    def _render(
        self, client: Client, frames: Frames, results: list[list[StoredMessage]] | None
    ) -> bytes:
        render = client.render_reply
        parts: list[bytes] = []
        pages = iter(results or ())
        # A page counts against the client's output bound like everything else it is sent: a
        # client that asks for history and reads none of it must not make the server hold more
        # for it than for any other slow reader. So pages are cut to the room left, and say
        # ``more`` (the client asks again once it has read this).
        room = client.output_room() - sum(
            len(frame) for frame in frames if isinstance(frame, bytes)
        )
        for frame in frames:
            if isinstance(frame, bytes):
                parts.append(frame)
                continue
            _, shown_as, limit, newest = frame
            if results is None:
                parts.append(
                    render(
                        Error(
                            code=ErrorCode.STORAGE_UNAVAILABLE,
                            detail=f"the history of {shown_as} cannot be read right now",
                            room=shown_as,
                        )
                    )
                )
                continue
            rows = next(pages)
            more = len(rows) > limit
            if more:
                rows = rows[1:] if newest else rows[:limit]
            messages = [self._shown(row, shown_as) for row in rows]
            data = _fitted(render, shown_as, messages, more, newest, room)
            room -= len(data)
            parts.append(data)
        return b"".join(parts)

    def _shown(self, row: StoredMessage, shown_as: str) -> Message:
        members = dm_members(row.room)
        if members is not None:
            low, high = members
            to_key = high if row.sender_key == low else low
            to_user = self._presence.user(to_key)
            return shown(row, to=to_user.name if to_user is not None else to_key)
        room = self._rooms.get(row.room)
        return shown(row, room=room.name if room is not None else shown_as)


def _query(
    stored_as: str,
    shown_as: str,
    above: int,
    below: int,
    limit: int,
    user: User,
    *,
    newest: bool,
) -> Page:
    dm_of = None
    if stored_as.startswith("@"):
        above = max(above, user.dm_floor)  # DMs of the name's earlier holders are not theirs
        if stored_as == "@":
            dm_of = user.key
    # One more than shown, to tell whether there are more.
    query = PageQuery(stored_as, above, below, limit + 1, newest, dm_of)
    return query, shown_as, limit, newest


def _fitted(
    render: Callable[[HistoryPage], bytes],
    shown_as: str,
    messages: list[Message],
    more: bool,
    newest: bool,
    room: int,
) -> bytes:
    """The page rendered within ``room`` bytes: as many messages as fit, keeping the end the
    client reads on from (the newest of a page back, the oldest of a page forward), and
    ``more`` set when some were left out. At least one message goes whatever the room, so a
    client always makes progress; the overshoot is at most one message."""
    data = render(HistoryPage(room=shown_as, messages=messages, more=more))
    while len(data) > room and len(messages) > 1:
        # Sizes are close to proportional to the count: aim by proportion, again if need be.
        keep = max(1, min(len(messages) - 1, len(messages) * max(room, 0) // len(data)))
        messages = messages[-keep:] if newest else messages[:keep]
        more = True
        data = render(HistoryPage(room=shown_as, messages=messages, more=more))
    return data
