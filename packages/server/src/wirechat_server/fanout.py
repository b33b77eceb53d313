"""Fan-out: what each connection is owed, gathered for a moment and written once.

Everything the chat core says goes through :class:`Fanout`: to a room (:meth:`Fanout.to_room`,
optionally leaving out one member: a sender does not get its own message back) or to one member
(:meth:`Fanout.to_member`: acks, errors, history pages). Nothing is written until
:meth:`Fanout.flush` runs: after a quiet moment, at the end of the loop turn in which the first
event was queued; while the server is busy, the server's ``coalesce_delay`` (2 ms) after it.
A "turn" below is what is queued between two flushes. Then:

- each event is rendered once per wire format in use (JSON for native clients, a text line for
  plain-text ones), never once per recipient;
- everything a recipient is owed in the turn is joined into a single write, so a burst of 100
  messages costs each recipient one ``write`` call, not 100;
- members of one room whose stream is the room's common one get the very same bytes object,
  built once. Members of several rooms that all had traffic this turn get one stream per
  combination of rooms, built once per combination.

Only the few members whose stream differs this turn are "special" and get bytes of their own: a
sender (its own messages are left out), the target of a direct reply, a member who entered or
left a room mid-turn. Their streams are cut out of the rooms' shared bytes by offsets, so a turn
in which a thousand members each send one message stays linear, not quadratic. Direct replies
travel through the same queue, so every member sees events in exactly the order they were made.
"""

from __future__ import annotations

import bisect
import heapq
import time
from collections.abc import Callable, Iterable
from typing import Final, Protocol

from wirechat_common import AnyMessage

from .bus import WireFormat


class Member(Protocol):
    """What fan-out needs of a connection."""

    wire: WireFormat
    #: The rooms the member is in (maintained by :class:`Group`). A list: most members are in
    #: one or two rooms, and an empty set alone costs 216 bytes a connection.
    rooms: list[Group]
    #: Set by fan-out: ``None`` unless the member's stream differs from the common one this
    #: turn. Kept on the member so that the hot loop tests an attribute, not a dict.
    fanout_state: Special | None

    @property
    def writable(self) -> bool:
        """Whether anything written now could still reach the member."""
        ...

    def deliver(self, data: bytes) -> None:
        """Write ``data`` to the member. Must not call back into the chat."""
        ...

    def render_reply(self, event: AnyMessage) -> bytes:
        """The bytes of ``event`` sent to this member alone (a reply): rendered for it, so a
        dialect whose replies name their recipient (IRC's numerics) can. Broadcasts are
        rendered once per wire format instead, the same bytes for all."""
        ...


class Group:
    """A set of members that hear the same things: a chat room's delivery group, which is all
    fan-out knows of the room (its name, topic and roster are the core's)."""

    __slots__ = ("by_wire", "key", "name")

    def __init__(self, name: str, key: str) -> None:
        self.name = name
        self.key = key
        self.by_wire: dict[WireFormat, set[Member]] = {}

    def __repr__(self) -> str:
        return f"Group({self.name!r})"

    def __len__(self) -> int:
        return sum(len(group) for group in self.by_wire.values())

    def members(self) -> Iterable[Member]:
        for group in self.by_wire.values():
            yield from group

    def add(self, member: Member) -> None:
        group = self.by_wire.setdefault(member.wire, set())
        if member not in group:
            group.add(member)
            member.rooms.append(self)

    def discard(self, member: Member) -> None:
        group = self.by_wire.get(member.wire)
        if group is None or member not in group:
            return
        group.discard(member)
        if not group:
            del self.by_wire[member.wire]
        member.rooms.remove(self)


_NO_END = 2**62
_ALWAYS: list[list[int]] = [[0, _NO_END]]  # a member in the room all turn


class Special:
    """Why a member's stream differs this turn."""

    __slots__ = ("own", "windows")

    def __init__(self) -> None:
        #: Queue indices that concern the member alone: its own broadcasts (left out) and
        #: replies to it (put in), in queue order.
        self.own: list[int] = []
        #: Rooms entered or left this turn: the member hears the room's entries in these
        #: intervals of queue indices, [start, end), in order (several if it left and came back).
        self.windows: dict[Group, list[list[int]]] = {}


# One queued event: (event, its room or None, member left out, the only member it is for).
_Entry = tuple[AnyMessage, Group | None, Member | None, Member | None]


class _Layout:
    """One room's entries this turn rendered for one wire format: each entry's bytes, the
    shared stream of them all, and where each starts in it."""

    __slots__ = ("indices", "offsets", "rendered", "shared")

    def __init__(self, wire: WireFormat, indices: list[int], queue: list[_Entry]) -> None:
        render = wire.render
        self.indices = indices
        self.rendered = [render(queue[index][0]) for index in indices]
        self.offsets: list[int] = []
        position = 0
        for data in self.rendered:
            self.offsets.append(position)
            position += len(data)
        self.shared = b"".join(self.rendered)

    def offset_of(self, index: int) -> int:
        """Where queue entry ``index`` (or the first room entry after it) starts."""
        at = bisect.bisect_left(self.indices, index)
        return self.offsets[at] if at < len(self.offsets) else len(self.shared)


#: The server counts as quiet, and the first event flushes at the end of its turn, when no flush
#: ended within this many coalescing delays (20 ms at the default 2 ms): fewer than about 50
#: flushes a second. Busier than that, events wait the delay to share a write.
QUIET_FACTOR: Final = 10

#: A flush that took at least this long (seconds) paces the next one (see :class:`Fanout`). A
#: room of 10,000 members takes about 40 ms, and with newcomers arriving in a stream each
#: flush would carry the joins of one or two of them: 10,000 writes each time. A room of
#: 1,000 takes 8 to 15 ms here, so some of its flushes are paced and some not; a 30 ms
#: threshold changed nothing clear there (docs/performance.md, fanout-1k).
PACE_AFTER: Final = 0.010
#: After such a flush the next one waits this fraction of its duration: writing then takes at
#: most about two thirds of the loop. Measured with 1,000 members at 200 messages/s, where a
#: flush takes 8 to 15 ms every 25 ms: waiting the whole duration (half the loop) delayed
#: bursts and doubled the p99 in some runs; half of it left 10,000 registrations as quick.
PACE_FACTOR: Final = 0.5


class Scheduler(Protocol):
    """What fan-out needs of an event loop."""

    def call_soon(self, callback: Callable[[], None]) -> object: ...

    def call_later(self, delay: float, callback: Callable[[], None]) -> object: ...


class Fanout:
    """The queue of everything owed to members, written by :meth:`flush`.

    A flush is scheduled on ``loop`` when the first event is queued after a flush. If no flush
    ended within the last :data:`QUIET_FACTOR` delays (a quiet moment), it runs at the end of
    the loop's turn: a lone message waits for nothing. Otherwise the server is busy, and it
    runs ``delay`` seconds later: what arrives meanwhile (the messages of five senders typing
    at once, the joins of a crowd arriving) costs each recipient one write instead of one
    each. So the delay is paid only under load, where it saves writes. (A fixed wait cost a
    lone message about 3 ms of a 7 ms median at 20 messages/s to 1,000 members, and saved
    nothing there; flushing at every turn's end under load made 1,000 newcomers take half
    as long again to join, with 2.8 events a flush instead of 4.9.) After a long flush
    (:data:`PACE_AFTER`), the next one also waits until half as long as that one took
    (:data:`PACE_FACTOR`) has passed since it ended, so that writing to a big room takes at
    most about two thirds of the loop's time: requests keep being read and handled, and each
    flush carries more (10,000 newcomers join a room in 9 to 18 s instead of 33 to 171).
    :meth:`expedite` is for output whose wait already happened.
    """

    def __init__(
        self,
        loop: Scheduler,
        *,
        delay: float = 0.0,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self._loop = loop
        self._delay = delay
        self._clock = clock
        self._queue: list[_Entry] = []
        self._touched: dict[Group, list[int]] = {}  # room -> its queue indices this turn
        self._special: dict[Member, Special] = {}
        self._flush_pending = False
        self._expedite_pending = False
        self._after_flush: list[Callable[[], None]] = []
        self._last_took = 0.0  # how long the last flush took
        self._last_end = float("-inf")  # when it ended (clock)

    # -- queueing ----------------------------------------------------------------------------

    def to_room(self, room: Group, event: AnyMessage, *, exclude: Member | None = None) -> None:
        """Queue ``event`` for everyone in ``room`` but ``exclude``."""
        index = len(self._queue)
        if exclude is not None:
            self._special_of(exclude).own.append(index)
        indices = self._touched.get(room)
        if indices is None:
            self._touched[room] = [index]
        else:
            indices.append(index)
        self._enqueue((event, room, exclude, None))

    def to_member(self, member: Member, event: AnyMessage) -> None:
        """Queue ``event`` for ``member`` alone, in order with everything else it is owed."""
        self._special_of(member).own.append(len(self._queue))
        self._enqueue((event, None, None, member))

    def entering(self, member: Member, room: Group) -> None:
        """``member`` enters ``room`` now: it must not get what the room was owed before."""
        intervals = self._special_of(member).windows.setdefault(room, [])
        if not intervals or intervals[-1][1] != _NO_END:
            intervals.append([len(self._queue), _NO_END])
        else:  # already in it: from now on (cut() restarts a member's rooms this way)
            intervals[-1][0] = max(intervals[-1][0], len(self._queue))

    def leaving(self, member: Member, room: Group) -> None:
        """``member`` leaves ``room`` now: it still gets what the room was owed until now."""
        intervals = self._special_of(member).windows.setdefault(room, [])
        if not intervals:  # in the room since before this turn
            intervals.append([0, _NO_END])
        if intervals[-1][1] == _NO_END:
            intervals[-1][1] = len(self._queue)

    def drain(self, member: Member) -> bytes:
        """Everything ``member`` is owed so far this turn, now; it is owed nothing more.

        For a member about to go: it must get what it was owed, and nothing should be rendered
        for it once it is gone.
        """
        state = member.fanout_state
        if not self._queue:
            self._special.pop(member, None)
            member.fanout_state = None
            return b""
        if state is None:
            state = Special()
        layouts: dict[tuple[Group, WireFormat], _Layout] = {}
        stream = self._stream_for(member, state, layouts)
        # Off the special list: the caller takes it out of its rooms next, so nothing later
        # this turn reaches it.
        self._special.pop(member, None)
        member.fanout_state = None
        return stream

    def cut(self, member: Member) -> bytes:
        """Everything ``member`` is owed so far this turn, to be written now; from here on it
        is owed only what comes next. Lets a reply be written out of turn (a history page)
        without breaking the member's order."""
        stream = self.drain(member)
        for room in member.rooms:
            if room in self._touched:
                self.entering(member, room)
        return stream

    def _special_of(self, member: Member) -> Special:
        state = member.fanout_state
        if state is None:
            state = member.fanout_state = self._special[member] = Special()
        return state

    def _enqueue(self, entry: _Entry) -> None:
        self._queue.append(entry)
        if not self._flush_pending:
            self._flush_pending = True
            now = self._clock()
            quiet = now - self._last_end >= self._delay * QUIET_FACTOR
            delay = max(0.0 if quiet else self._delay, self._pacing(now))
            if delay > 0:
                self._loop.call_later(delay, self._scheduled_flush)
            else:
                self._loop.call_soon(self._scheduled_flush)

    def _pacing(self, now: float) -> float:
        """How long the next flush must still wait because the last one was long."""
        if self._last_took < PACE_AFTER:
            return 0.0
        return self._last_took * PACE_FACTOR - (now - self._last_end)

    def expedite(self) -> None:
        """Write what is queued at the end of this turn, not after the coalescing delay (a
        commit's relays: they already waited for the disk, which grouped them). Pacing still
        applies: after a long flush, the paced one writes them."""
        if not self._expedite_pending and self._pacing(self._clock()) <= 0:
            self._expedite_pending = True
            self._loop.call_soon(self._expedited_flush)

    def after_flush(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once what is queued now has been written (soon, if nothing is)."""
        if self._queue:
            self._after_flush.append(callback)
        else:
            self._loop.call_soon(callback)

    def _scheduled_flush(self) -> None:
        self._flush_pending = False
        self.flush()

    def _expedited_flush(self) -> None:
        self._expedite_pending = False
        self.flush()

    # -- writing -----------------------------------------------------------------------------

    def flush(self) -> None:
        """Write everything queued: one write per member, one render per format."""
        if not self._queue:
            return
        started = self._clock()
        touched, special = self._touched, self._special
        layouts: dict[tuple[Group, WireFormat], _Layout] = {}
        try:
            if len(touched) == 1:
                for room in touched:
                    self._deliver_shared(room, layouts)
            elif touched:
                self._deliver_combined(layouts)
            for member, state in special.items():
                if member.writable:
                    stream = self._stream_for(member, state, layouts)
                    if stream:
                        member.deliver(stream)
        finally:
            # Whatever happened above, next turn starts clean: a state left set would keep a
            # member off the shared stream for good.
            for member in special:
                member.fanout_state = None
            self._queue = []
            self._touched = {}
            self._special = {}
            self._last_end = self._clock()
            self._last_took = self._last_end - started
            waiting, self._after_flush = self._after_flush, []
            for callback in waiting:
                self._loop.call_soon(callback)

    def _layout(
        self, room: Group, wire: WireFormat, layouts: dict[tuple[Group, WireFormat], _Layout]
    ) -> _Layout:
        layout = layouts.get((room, wire))
        if layout is None:
            layout = layouts[room, wire] = _Layout(wire, self._touched[room], self._queue)
        return layout

    def _deliver_shared(
        self, room: Group, layouts: dict[tuple[Group, WireFormat], _Layout]
    ) -> None:
        """The common case: one room had traffic; its members get the same bytes."""
        for wire, members in room.by_wire.items():
            shared = self._layout(room, wire, layouts).shared
            if shared:
                for member in members:
                    if member.fanout_state is None:
                        member.deliver(shared)

    def _deliver_combined(self, layouts: dict[tuple[Group, WireFormat], _Layout]) -> None:
        """Several rooms had traffic: group members by the set of those rooms they are in and
        build each group's stream once."""
        groups: dict[Member, list[Group]] = {}
        for room in self._touched:
            for member in room.members():
                if member.fanout_state is None:
                    rooms = groups.get(member)
                    if rooms is None:
                        groups[member] = [room]
                    else:
                        rooms.append(room)
        streams: dict[tuple[WireFormat, tuple[Group, ...]], bytes] = {}
        for member, rooms in groups.items():
            if len(rooms) == 1:
                data = self._layout(rooms[0], member.wire, layouts).shared
            else:
                key = (member.wire, tuple(rooms))
                cached = streams.get(key)
                if cached is None:
                    cached = streams[key] = self._merge(member.wire, rooms, layouts)
                data = cached
            if data:
                member.deliver(data)

    def _merge(
        self,
        wire: WireFormat,
        rooms: list[Group],
        layouts: dict[tuple[Group, WireFormat], _Layout],
    ) -> bytes:
        chosen = [self._layout(room, wire, layouts) for room in rooms]
        merged = heapq.merge(
            *(zip(layout.indices, layout.rendered, strict=True) for layout in chosen)
        )
        return b"".join(data for _, data in merged)

    def _stream_for(
        self, member: Member, state: Special, layouts: dict[tuple[Group, WireFormat], _Layout]
    ) -> bytes:
        """What a special member is owed: its rooms' entries within its windows, without its
        own broadcasts, with its replies in place."""
        touched = self._touched
        rooms = [room for room in member.rooms if room in touched]
        rooms.extend(room for room in state.windows if room in touched and room not in rooms)
        if len(rooms) <= 1:
            return self._cut(member, state, rooms[0] if rooms else None, layouts)
        # Several rooms (rare: a special member of several busy rooms): entry by entry.
        queue = self._queue
        wire = member.wire
        own = set(state.own)
        picked: list[tuple[int, bytes]] = []
        for room in rooms:
            layout = self._layout(room, wire, layouts)
            intervals = state.windows.get(room) or _ALWAYS
            for index, data in zip(layout.indices, layout.rendered, strict=True):
                if index not in own and any(start <= index < end for start, end in intervals):
                    picked.append((index, data))
        for index in state.own:
            if queue[index][3] is member:
                picked.append((index, member.render_reply(queue[index][0])))
        picked.sort(key=lambda item: item[0])
        return b"".join(data for _, data in picked)

    def _cut(
        self,
        member: Member,
        state: Special,
        room: Group | None,
        layouts: dict[tuple[Group, WireFormat], _Layout],
    ) -> bytes:
        """One room's shared stream with the member's own entries cut out or spliced in: slices
        of the shared bytes, so the cost is in the member's own entries, not the whole turn."""
        queue = self._queue
        wire = member.wire
        if room is None:
            return b"".join(
                member.render_reply(queue[index][0])
                for index in state.own
                if queue[index][3] is member
            )
        layout = self._layout(room, wire, layouts)
        view = memoryview(layout.shared)
        own = state.own
        parts: list[bytes | memoryview] = []
        next_own = 0
        for start, end in state.windows.get(room) or _ALWAYS:
            # Replies made while the member was out of the room come before its next interval.
            while next_own < len(own) and own[next_own] < start:
                index = own[next_own]
                next_own += 1
                if queue[index][3] is member:
                    parts.append(member.render_reply(queue[index][0]))
            position = layout.offset_of(start)
            stop = layout.offset_of(end)
            while next_own < len(own) and own[next_own] < end:
                index = own[next_own]
                next_own += 1
                event, entry_room, _, only = queue[index]
                if only is not member and entry_room is not room:
                    continue  # left out of another room's entries, which it does not get here
                at = layout.offset_of(index)
                if at > position:
                    parts.append(view[position:at])
                    position = at
                if only is member:
                    parts.append(member.render_reply(event))  # a reply to it alone, where made
                else:  # its own broadcast: left out
                    position = at + len(layout.rendered[bisect.bisect_left(layout.indices, index)])
            if stop > position:
                parts.append(view[position:stop])
        for index in own[next_own:]:  # replies after its last interval in the room closed
            if queue[index][3] is member:
                parts.append(member.render_reply(queue[index][0]))
        return b"".join(parts)
