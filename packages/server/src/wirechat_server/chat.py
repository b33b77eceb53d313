"""The chat itself, with no sockets: who is here, what was said, who must hear it.

:class:`ChatCore` holds the registered users and turns their actions into events (``joined``,
``message``, ``left``...). It never writes to a socket and never waits. What each user is owed
is queued for the current turn of the event loop and written once at the end of the turn by
:meth:`ChatCore.flush`:

- each event is rendered once per wire format in use (JSON for native clients, a text line for
  plain-text ones), never once per recipient;
- everything a recipient is owed in one turn is joined into a single write, so a burst of 100
  messages costs each recipient one ``write`` call, not 100; and most recipients are owed exactly
  the same bytes, so those bytes are built once and the same object goes to all of them.

Only the few members whose stream differs this turn (a sender, who does not get its own message
back; someone who joined mid-turn; the target of a direct reply) get bytes of their own. Direct
replies (acks, errors, user lists) travel through the same queue, so every member sees events in
exactly the order the core produced them.

:meth:`ChatCore.publish` is the single seam through which events reach members; a multi-node
backplane would hook in there without touching the connection adapters.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from wirechat_common import (
    PROTOCOL_VERSION,
    Ack,
    AnyMessage,
    ErrorCode,
    Joined,
    LeaveReason,
    Left,
    Message,
    ProtocolError,
    Welcome,
    name_key,
)


class WireFormat(Protocol):
    """How events look on one kind of connection. One instance per format, shared by all."""

    def render(self, event: AnyMessage) -> bytes:
        """The bytes that show ``event``; empty when this format does not show it."""
        ...


class Member(Protocol):
    """What the core needs of a registered connection."""

    name: str
    wire: WireFormat
    #: Set by the core: ``None`` when the member is owed this turn's common bytes, else the
    #: index in the turn's queue from which its own stream starts.
    fanout_mark: int | None

    @property
    def writable(self) -> bool:
        """Whether anything written now could still reach the member."""
        ...

    def deliver(self, data: bytes) -> None:
        """Write ``data`` to the member. Must not call back into the core."""
        ...


@dataclass(frozen=True, slots=True)
class AnnouncedLimits:
    """The server's limits that ``welcome`` tells each client (0: not announced or none)."""

    max_text_bytes: int = 0
    max_frame_bytes: int = 0
    msg_burst: int = 0
    msg_rate: float = 0.0


def now_ms() -> int:
    """The current UTC time in milliseconds since the Unix epoch (the protocol's ``ts``)."""
    return time.time_ns() // 1_000_000


# One queued event: (event, member it must not reach, the only member it must reach).
_Entry = tuple[AnyMessage, Member | None, Member | None]
# One turn's queue rendered for one wire format: (each entry's bytes, the shared stream, where
# each entry starts in the shared stream).
_Layout = tuple[list[bytes], bytes, list[int]]


class ChatCore:
    """The single conversation: registration, messages, presence and fan-out.

    ``schedule`` is called with :meth:`flush` once per turn that has something to deliver (the
    server passes ``loop.call_soon``); ``clock`` gives timestamps in milliseconds.
    """

    def __init__(
        self,
        *,
        schedule: Callable[[Callable[[], None]], object],
        server_name: str = "wirechat",
        limits: AnnouncedLimits | None = None,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        self._schedule = schedule
        self._clock = clock
        self._server_name = server_name
        self._limits = limits or AnnouncedLimits()
        self._members: dict[str, Member] = {}  # by name_key
        self._roster: list[str] = []  # display names, sorted by name_key
        self._by_wire: dict[WireFormat, set[Member]] = {}
        self._queue: list[_Entry] = []
        # Members whose stream differs from the shared one this turn (fanout_mark set), with the
        # queue indices of the entries that concern them: their own broadcasts, their replies.
        self._touches: dict[Member, list[int]] = {}
        self._flush_pending = False
        self._last_id = 0

    # -- queries -----------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._members)

    def users(self) -> list[str]:
        """Everyone registered, sorted case-insensitively."""
        return list(self._roster)

    def is_taken(self, name: str) -> bool:
        """Whether ``name`` (in any case) is in use."""
        return name_key(name) in self._members

    # -- actions -----------------------------------------------------------------------------

    def join(self, member: Member, name: str) -> None:
        """Register ``member`` as ``name``: it gets ``welcome``, everyone else ``joined``.

        Raises :class:`ProtocolError` ``name_taken`` if the name is in use in any case.
        """
        key = name_key(name)
        if key in self._members:
            raise ProtocolError(ErrorCode.NAME_TAKEN, f"the name {name!r} is taken")
        member.name = name
        self._members[key] = member
        bisect.insort(self._roster, name, key=name_key)
        self._by_wire.setdefault(member.wire, set()).add(member)
        # A member joining mid-turn must not receive what was queued before it arrived.
        member.fanout_mark = len(self._queue)
        self._touches[member] = []
        welcome = Welcome(
            name=name,
            version=PROTOCOL_VERSION,
            users=list(self._roster),
            server=self._server_name,
            max_text_bytes=self._limits.max_text_bytes,
            max_frame_bytes=self._limits.max_frame_bytes,
            msg_burst=self._limits.msg_burst,
            msg_rate=self._limits.msg_rate,
        )
        self.send_to(member, welcome)
        self.publish(Joined(name=name, ts=self._clock()), exclude=member)

    def say(
        self, member: Member, text: str, *, action: bool = False, client_id: str | None = None
    ) -> None:
        """Relay ``text`` from ``member`` to everyone else, and acknowledge it to ``member``."""
        self._last_id += 1
        ts = self._clock()
        self.publish(
            Message(id=self._last_id, ts=ts, sender=member.name, text=text, action=action),
            exclude=member,
        )
        self.send_to(member, Ack(id=self._last_id, ts=ts, client_id=client_id))

    def leave(self, member: Member, reason: LeaveReason, *, announce: bool = True) -> None:
        """Remove ``member``, after giving it all it is owed; tell the others if ``announce``."""
        key = name_key(member.name)
        if self._members.get(key) is not member:
            return
        if self._queue and member.writable:
            layout = self._layout(member.wire, self._queue)
            touches = self._touches.get(member, [])
            member.deliver(self._stream_for(member, touches, self._queue, layout))
        if member.fanout_mark is not None:
            del self._touches[member]
            member.fanout_mark = None
        del self._members[key]
        del self._roster[bisect.bisect_left(self._roster, key, key=name_key)]
        group = self._by_wire[member.wire]
        group.discard(member)
        if not group:
            del self._by_wire[member.wire]
        if announce:
            self.publish(Left(name=member.name, reason=reason, ts=self._clock()))

    # -- delivery ----------------------------------------------------------------------------

    def publish(self, event: AnyMessage, *, exclude: Member | None = None) -> None:
        """Queue ``event`` for every member but ``exclude``: the seam for a future backplane."""
        if exclude is not None:
            self._touch(exclude, 0)
        self._enqueue((event, exclude, None))

    def send_to(self, member: Member, event: AnyMessage) -> None:
        """Queue ``event`` for ``member`` alone, in order with everything else it is owed."""
        self._touch(member, 0)
        self._enqueue((event, None, member))

    def flush(self) -> None:
        """Write everything queued this turn: one write per member, one render per format."""
        self._flush_pending = False
        queue = self._queue
        if not queue:
            return
        touches = self._touches
        self._queue = []
        self._touches = {}
        layouts: dict[WireFormat, _Layout] = {}
        try:
            for wire, members in self._by_wire.items():
                layout = layouts[wire] = self._layout(wire, queue)
                shared = layout[1]
                if shared:
                    for member in members:
                        if member.fanout_mark is None:
                            member.deliver(shared)
            for member, indices in touches.items():
                stream = self._stream_for(member, indices, queue, layouts[member.wire])
                member.fanout_mark = None
                if stream:
                    member.deliver(stream)
        finally:
            # Whatever happened above, next turn starts clean: a mark left set would keep a
            # member off the shared stream for good.
            for member in touches:
                member.fanout_mark = None

    @staticmethod
    def _layout(wire: WireFormat, queue: list[_Entry]) -> _Layout:
        """Each entry rendered for ``wire``, the shared stream, and where each entry starts in it.

        Direct replies are rendered only for their target's format and take no room in the
        shared stream.
        """
        render = wire.render
        rendered: list[bytes] = []
        offsets: list[int] = []
        shared: list[bytes] = []
        position = 0
        for event, _, only in queue:
            offsets.append(position)
            if only is None:
                data = render(event)
                shared.append(data)
                position += len(data)
            else:
                data = render(event) if only.wire is wire else b""
            rendered.append(data)
        return rendered, b"".join(shared), offsets

    @staticmethod
    def _stream_for(
        member: Member, touches: list[int], queue: list[_Entry], layout: _Layout
    ) -> bytes:
        """What ``member`` is owed: the shared stream from its mark on, without its own
        broadcasts, with its replies spliced in. Slices of the shared bytes, so the cost is in
        the member's own entries, not the whole turn (many senders in one turn stay linear)."""
        rendered, shared, offsets = layout
        view = memoryview(shared)
        start = member.fanout_mark or 0
        position = offsets[start] if start < len(offsets) else len(shared)
        parts: list[bytes | memoryview] = []
        for index in touches:
            if index < start:
                continue
            at = offsets[index]
            if at > position:
                parts.append(view[position:at])
            if queue[index][2] is member:
                parts.append(rendered[index])  # a reply to it alone
                position = at
            else:
                position = at + len(rendered[index])  # its own broadcast: left out
        parts.append(view[position:])
        return b"".join(parts)

    def _touch(self, member: Member, mark: int) -> None:
        """Note that the next entry concerns ``member``; its own stream starts at ``mark``."""
        if member.fanout_mark is None:
            member.fanout_mark = mark
            self._touches[member] = []
        self._touches[member].append(len(self._queue))

    def _enqueue(self, entry: _Entry) -> None:
        self._queue.append(entry)
        if not self._flush_pending:
            self._flush_pending = True
            self._schedule(self.flush)
