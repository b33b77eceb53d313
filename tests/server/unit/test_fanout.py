"""The fan-out engine on its own: who gets which bytes, in which order, in how many writes.

The members and wire formats here are fakes: a member records every write it gets, a wire
renders an event as ``TAG<token>`` and counts how often it rendered each event. The flush is
scheduled into a list and run by hand, so a "turn" is exactly what the test queues between two
flushes.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from tests.support.hand_loop import HandRunLoop
from wirechat_common import Ping
from wirechat_common.messages import AnyMessage
from wirechat_server import fanout as fanout_module
from wirechat_server.bus import WireFormat
from wirechat_server.fanout import Fanout, Group, Special

_TOKEN = re.compile(rb"[A-Z]+<([^>]*)>")


class FakeWire:
    """Renders ``Ping(token=T)`` as ``TAG<T>``; tokens starting with ``silent`` render empty
    (as acks do for plain-text readers). Counts every render, by token."""

    def __init__(self, tag: str, *, silent: str = "") -> None:
        self.tag = tag
        self.silent = silent
        self.renders: Counter[str] = Counter()

    def render(self, event: AnyMessage) -> bytes:
        assert isinstance(event, Ping)
        assert event.token is not None
        self.renders[event.token] += 1
        if self.silent and event.token.startswith(self.silent):
            return b""
        return f"{self.tag}<{event.token}>".encode()

    def __repr__(self) -> str:
        return f"FakeWire({self.tag!r})"


class FakeMember:
    """A connection as fan-out sees it, keeping every write."""

    def __init__(self, name: str, wire: WireFormat) -> None:
        self.name = name
        self.wire = wire
        self.rooms: list[Group] = []
        self.fanout_state: Special | None = None
        self.writable = True
        self.writes: list[bytes] = []

    def __repr__(self) -> str:
        return f"FakeMember({self.name!r})"

    def deliver(self, data: bytes) -> None:
        assert data, "fan-out wrote an empty buffer"
        self.writes.append(data)

    def render_reply(self, event: AnyMessage) -> bytes:
        return self.wire.render(event)

    def tokens(self) -> list[str]:
        """Every event received so far, in order."""
        return tokens_of(b"".join(self.writes))

    def take(self) -> list[bytes]:
        """The writes so far, forgotten."""
        writes, self.writes = self.writes, []
        return writes


def tokens_of(data: bytes) -> list[str]:
    found = [match.group(1).decode() for match in _TOKEN.finditer(data)]
    # Nothing between or around the events: the stream is made of whole renders only.
    assert len(data) == sum(len(m.group(0)) for m in _TOKEN.finditer(data)), data
    return found


def ev(token: str) -> Ping:
    return Ping(token=token)


class Turns:
    """A fan-out whose flushes are scheduled into a list; :meth:`end_turn` runs them."""

    def __init__(self) -> None:
        self.loop = HandRunLoop()
        self.scheduled = self.loop.scheduled
        self.fanout = Fanout(self.loop)

    def end_turn(self) -> None:
        """Run the turn's flush: it must have been scheduled exactly once."""
        assert len(self.scheduled) == 1, self.scheduled
        self.scheduled.pop()()


def room(name: str) -> Group:
    return Group(name, name.lower())


def members(prefix: str, count: int, wire: WireFormat, *rooms: Group) -> list[FakeMember]:
    made = [FakeMember(f"{prefix}{n}", wire) for n in range(count)]
    for member in made:
        for each in rooms:
            each.add(member)
    return made


# -- who gets what ---------------------------------------------------------------------------


class AddressedMember(FakeMember):
    """A member whose replies name it, as IRC numerics name their recipient."""

    def render_reply(self, event: AnyMessage) -> bytes:
        return self.name.encode() + b":" + self.wire.render(event)


def test_replies_are_rendered_for_their_recipient_and_broadcasts_once_for_all() -> None:
    turns = Turns()
    wire = FakeWire("N")
    a = room("#a")
    ash, bo = (AddressedMember(name, wire) for name in ("ash", "bo"))
    for member in (ash, bo):
        a.add(member)

    turns.fanout.to_room(a, ev("all1"))
    turns.fanout.to_member(ash, ev("r1"))
    turns.fanout.to_member(bo, ev("r2"))
    turns.fanout.to_room(a, ev("all2"))
    turns.end_turn()

    assert b"".join(ash.writes) == b"N<all1>ash:N<r1>N<all2>"
    assert b"".join(bo.writes) == b"N<all1>bo:N<r2>N<all2>"
    assert wire.renders["all1"] == 1  # the broadcast, once for both
    assert wire.renders["r1"] == wire.renders["r2"] == 1


def test_room_events_reach_exactly_the_members_of_the_room() -> None:
    turns = Turns()
    wire = FakeWire("N")
    a, b = room("#a"), room("#b")
    in_a = members("a", 3, wire, a)
    in_b = members("b", 2, wire, b)
    outside = FakeMember("x", wire)

    turns.fanout.to_room(a, ev("a1"))
    turns.fanout.to_room(a, ev("a2"))
    turns.end_turn()

    for member in in_a:
        assert member.take() == [b"N<a1>N<a2>"]
    for member in [*in_b, outside]:
        assert member.writes == []

    turns.fanout.to_room(b, ev("b1"))
    turns.end_turn()
    for member in in_b:
        assert member.take() == [b"N<b1>"]
    for member in [*in_a, outside]:
        assert member.writes == []


def test_a_member_gets_its_events_in_queue_order_with_its_replies_in_place() -> None:
    turns = Turns()
    wire = FakeWire("N")
    a = room("#a")
    first, second, plain = members("m", 3, wire, a)
    fanout = turns.fanout

    fanout.to_room(a, ev("e1"))
    fanout.to_member(first, ev("r1"))
    fanout.to_room(a, ev("e2"))
    fanout.to_member(second, ev("r2"))
    fanout.to_member(first, ev("r3"))
    fanout.to_room(a, ev("e3"))
    fanout.to_member(second, ev("r4"))
    turns.end_turn()

    assert first.take() == [b"N<e1>N<r1>N<e2>N<r3>N<e3>"]
    assert second.take() == [b"N<e1>N<e2>N<r2>N<e3>N<r4>"]
    assert plain.take() == [b"N<e1>N<e2>N<e3>"]


def test_replies_alone_reach_only_their_member() -> None:
    turns = Turns()
    wire = FakeWire("N")
    a = room("#a")
    target, other = members("m", 2, wire, a)
    turns.fanout.to_member(target, ev("r1"))
    turns.fanout.to_member(target, ev("r2"))
    turns.end_turn()
    assert target.take() == [b"N<r1>N<r2>"]
    assert other.writes == []


def test_an_excluded_sender_gets_everything_else_in_order_with_its_replies_spliced() -> None:
    turns = Turns()
    wire = FakeWire("N")
    a = room("#a")
    alice, bob, carol = members("m", 3, wire, a)
    fanout = turns.fanout

    # Each says something (left out of their own stream) and gets an ack right after.
    fanout.to_room(a, ev("alice1"), exclude=alice)
    fanout.to_member(alice, ev("ack-alice1"))
    fanout.to_room(a, ev("bob1"), exclude=bob)
    fanout.to_member(bob, ev("ack-bob1"))
    fanout.to_room(a, ev("topic"))  # everyone, the senders included
    fanout.to_room(a, ev("alice2"), exclude=alice)
    fanout.to_member(alice, ev("ack-alice2"))
    fanout.to_room(a, ev("carol1"), exclude=carol)
    fanout.to_member(carol, ev("ack-carol1"))
    turns.end_turn()

    assert alice.tokens() == ["ack-alice1", "bob1", "topic", "ack-alice2", "carol1"]
    assert bob.tokens() == ["alice1", "ack-bob1", "topic", "alice2", "carol1"]
    assert carol.tokens() == ["alice1", "bob1", "topic", "alice2", "ack-carol1"]
    assert [len(member.writes) for member in (alice, bob, carol)] == [1, 1, 1]


def test_a_reply_queued_before_an_excluded_broadcast_stays_before_it() -> None:
    turns = Turns()
    wire = FakeWire("N")
    a = room("#a")
    sender, other = members("m", 2, wire, a)
    fanout = turns.fanout
    fanout.to_room(a, ev("e1"))
    fanout.to_member(sender, ev("r1"))
    fanout.to_room(a, ev("own"), exclude=sender)
    fanout.to_member(sender, ev("r2"))
    fanout.to_room(a, ev("own2"), exclude=sender)
    fanout.to_room(a, ev("e2"))
    turns.end_turn()
    assert sender.tokens() == ["e1", "r1", "r2", "e2"]
    assert other.tokens() == ["e1", "own", "own2", "e2"]


def test_plain_members_of_a_room_get_the_very_same_bytes_object() -> None:
    turns = Turns()
    native, plain = FakeWire("N"), FakeWire("P")
    a = room("#a")
    natives = members("n", 5, native, a)
    plains = members("p", 4, plain, a)
    sender = natives[0]

    turns.fanout.to_room(a, ev("e1"), exclude=sender)
    turns.fanout.to_member(sender, ev("ack"))
    turns.fanout.to_room(a, ev("e2"))
    turns.end_turn()

    shared_native = natives[1].writes[0]
    assert shared_native == b"N<e1>N<e2>"
    for member in natives[1:]:
        assert len(member.writes) == 1
        assert member.writes[0] is shared_native
    shared_plain = plains[0].writes[0]
    assert shared_plain == b"P<e1>P<e2>"
    for member in plains:
        assert len(member.writes) == 1
        assert member.writes[0] is shared_plain
    assert sender.writes == [b"N<ack>N<e2>"]


@pytest.mark.parametrize("rooms_touched", [1, 3], ids=["one-room", "three-rooms"])
def test_each_event_is_rendered_once_per_wire_format_whatever_the_member_count(
    rooms_touched: int,
) -> None:
    turns = Turns()
    native, plain, unused = FakeWire("N"), FakeWire("P"), FakeWire("U")
    rooms = [room(f"#r{n}") for n in range(3)]
    everyone: list[FakeMember] = []
    for index, each in enumerate(rooms):
        everyone += members(f"n{index}-", 40, native, each)
        everyone += members(f"p{index}-", 40, plain, each)
        # Some in two rooms, some in all three.
        everyone += members(f"nn{index}-", 10, native, each, rooms[(index + 1) % 3])
    everyone += members("all-n", 10, native, *rooms)
    everyone += members("all-p", 10, plain, *rooms)
    fanout = turns.fanout

    broadcasts: list[str] = []
    replies: list[str] = []
    for n in range(30):
        target = rooms[n % rooms_touched]
        sender = next(m for m in everyone if target in m.rooms and len(m.rooms) == n % 2 + 1)
        token = f"m{n}"
        fanout.to_room(target, ev(token), exclude=sender if n % 3 else None)
        broadcasts.append(token)
        if n % 3:
            fanout.to_member(sender, ev(f"ack{n}"))
            replies.append(f"ack{n}")
    fanout.to_room(rooms[0], ev("topic"))
    broadcasts.append("topic")
    turns.end_turn()

    for token in broadcasts:
        assert native.renders[token] == 1, token
        assert plain.renders[token] == 1, token
    for token in replies:
        assert native.renders[token] + plain.renders[token] == 1, token
    assert not unused.renders
    assert all(len(member.writes) <= 1 for member in everyone)


# -- several rooms ---------------------------------------------------------------------------


def test_a_member_of_two_busy_rooms_gets_one_write_merged_in_queue_order() -> None:
    turns = Turns()
    wire = FakeWire("N")
    a, b, quiet = room("#a"), room("#b"), room("#quiet")
    both = members("ab", 3, wire, a, b)
    # Also in a room without traffic this turn: the same combination of busy rooms.
    both += members("abq", 2, wire, a, b, quiet)
    only_a = members("a", 2, wire, a)
    only_b = members("b", 2, wire, b)
    fanout = turns.fanout

    fanout.to_room(a, ev("a1"))
    fanout.to_room(b, ev("b1"))
    fanout.to_room(b, ev("b2"))
    fanout.to_room(a, ev("a2"))
    fanout.to_room(a, ev("a3"))
    fanout.to_room(b, ev("b3"))
    turns.end_turn()

    merged = both[0].writes[0]
    assert merged == b"N<a1>N<b1>N<b2>N<a2>N<a3>N<b3>"
    for member in both:
        assert len(member.writes) == 1
        assert member.writes[0] is merged
    assert only_a[0].writes == [b"N<a1>N<a2>N<a3>"]
    assert only_a[1].writes[0] is only_a[0].writes[0]
    assert only_b[0].writes == [b"N<b1>N<b2>N<b3>"]
    assert only_b[1].writes[0] is only_b[0].writes[0]


def test_each_combination_of_busy_rooms_has_its_own_shared_stream() -> None:
    turns = Turns()
    native, plain = FakeWire("N"), FakeWire("P")
    a, b, c = room("#a"), room("#b"), room("#c")
    groups = {
        "ab": members("ab", 3, native, a, b),
        "bc": members("bc", 3, native, b, c),
        "abc": members("abc", 3, native, a, b, c),
        "ac-plain": members("acp", 3, plain, a, c),
    }
    fanout = turns.fanout
    for token, target in [("a1", a), ("c1", c), ("b1", b), ("a2", a), ("c2", c)]:
        fanout.to_room(target, ev(token))
    turns.end_turn()

    expected = {
        "ab": ["a1", "b1", "a2"],
        "bc": ["c1", "b1", "c2"],
        "abc": ["a1", "c1", "b1", "a2", "c2"],
        "ac-plain": ["a1", "c1", "a2", "c2"],
    }
    for key, group in groups.items():
        assert group[0].tokens() == expected[key], key
        for member in group:
            assert len(member.writes) == 1
            assert member.writes[0] is group[0].writes[0], key
    assert len({id(group[0].writes[0]) for group in groups.values()}) == 4
    for token in ("a1", "a2", "b1", "c1", "c2"):
        assert native.renders[token] == 1
    assert plain.renders["b1"] == 0  # no plain member in #b
    assert plain.renders["a1"] == plain.renders["c1"] == 1


def test_a_special_member_of_two_busy_rooms_gets_both_merged_with_its_own_entries() -> None:
    turns = Turns()
    wire = FakeWire("N")
    a, b = room("#a"), room("#b")
    sender = FakeMember("sender", wire)
    a.add(sender)
    b.add(sender)
    other = members("o", 1, wire, a, b)[0]
    fanout = turns.fanout
    fanout.to_room(a, ev("a1"))
    fanout.to_room(b, ev("own-b"), exclude=sender)
    fanout.to_member(sender, ev("ack-b"))
    fanout.to_room(b, ev("b1"))
    fanout.to_room(a, ev("own-a"), exclude=sender)
    fanout.to_member(sender, ev("ack-a"))
    fanout.to_room(a, ev("a2"))
    turns.end_turn()
    assert sender.writes == [b"N<a1>N<ack-b>N<b1>N<ack-a>N<a2>"]
    assert other.tokens() == ["a1", "own-b", "b1", "own-a", "a2"]


# -- entering and leaving mid-turn -----------------------------------------------------------


def test_a_member_entering_mid_turn_gets_only_what_came_after() -> None:
    turns = Turns()
    wire = FakeWire("N")
    a = room("#a")
    old = members("old", 2, wire, a)
    newcomer = FakeMember("new", wire)
    fanout = turns.fanout

    fanout.to_room(a, ev("before1"))
    fanout.to_member(newcomer, ev("welcome"))
    fanout.to_room(a, ev("before2"))
    fanout.entering(newcomer, a)
    a.add(newcomer)
    fanout.to_room(a, ev("joined"), exclude=newcomer)
    fanout.to_member(newcomer, ev("room-info"))
    fanout.to_room(a, ev("after"))
    turns.end_turn()

    assert newcomer.writes == [b"N<welcome>N<room-info>N<after>"]
    for member in old:
        assert member.writes == [b"N<before1>N<before2>N<joined>N<after>"]


def test_a_member_entering_a_second_room_mid_turn_keeps_all_of_its_first() -> None:
    turns = Turns()
    wire = FakeWire("N")
    a, b = room("#a"), room("#b")
    member = members("m", 1, wire, a)[0]
    fanout = turns.fanout
    fanout.to_room(a, ev("a1"))
    fanout.to_room(b, ev("b-before"))
    fanout.entering(member, b)
    b.add(member)
    fanout.to_room(a, ev("a2"))
    fanout.to_room(b, ev("b-after"))
    turns.end_turn()
    assert member.writes == [b"N<a1>N<a2>N<b-after>"]


def test_a_member_leaving_mid_turn_gets_what_came_before_and_nothing_after() -> None:
    turns = Turns()
    wire = FakeWire("N")
    a = room("#a")
    stays = members("stay", 2, wire, a)
    leaver = members("leaver", 1, wire, a)[0]
    fanout = turns.fanout

    fanout.to_room(a, ev("before"))
    fanout.to_room(a, ev("own"), exclude=leaver)
    fanout.leaving(leaver, a)
    a.discard(leaver)
    fanout.to_member(leaver, ev("left-confirmation"))
    fanout.to_room(a, ev("left"))
    fanout.to_room(a, ev("after"))
    turns.end_turn()

    assert leaver.writes == [b"N<before>N<left-confirmation>"]
    for member in stays:
        assert member.writes == [b"N<before>N<own>N<left>N<after>"]
    assert leaver.rooms == []


def test_a_member_entering_and_leaving_in_one_turn_gets_what_came_between() -> None:
    turns = Turns()
    wire = FakeWire("N")
    a = room("#a")
    members("m", 1, wire, a)
    visitor = FakeMember("visitor", wire)
    fanout = turns.fanout
    fanout.to_room(a, ev("e1"))
    fanout.entering(visitor, a)
    a.add(visitor)
    fanout.to_room(a, ev("e2"))
    fanout.to_room(a, ev("e3"))
    fanout.leaving(visitor, a)
    a.discard(visitor)
    fanout.to_room(a, ev("e4"))
    turns.end_turn()
    assert visitor.writes == [b"N<e2>N<e3>"]


def test_a_member_leaving_and_coming_back_in_one_turn_loses_nothing() -> None:
    turns = Turns()
    wire = FakeWire("N")
    a = room("#a")
    members("m", 1, wire, a)
    member = members("back", 1, wire, a)[0]
    fanout = turns.fanout
    fanout.to_room(a, ev("before-part"))
    fanout.leaving(member, a)
    a.discard(member)
    fanout.to_room(a, ev("while-away"))
    fanout.entering(member, a)
    a.add(member)
    fanout.to_room(a, ev("after-join"))
    turns.end_turn()
    assert member.tokens() == ["before-part", "after-join"]


def test_a_member_in_and_out_of_a_room_several_times_in_one_turn() -> None:
    turns = Turns()
    wire = FakeWire("N")
    a, b = room("#a"), room("#b")
    members("o", 1, wire, a, b)
    member = members("m", 1, wire, a)[0]
    fanout = turns.fanout

    def away(token: str) -> None:
        fanout.leaving(member, a)
        a.discard(member)
        fanout.to_member(member, ev(f"left-{token}"))
        fanout.to_room(a, ev(f"away-{token}"))

    def back(token: str) -> None:
        fanout.to_room(a, ev(f"still-away-{token}"), exclude=member)
        fanout.entering(member, a)
        a.add(member)
        fanout.to_member(member, ev(f"room-{token}"))

    fanout.to_room(a, ev("a0"))
    away("1")
    fanout.to_member(member, ev("reply-while-away"))
    back("1")
    fanout.to_room(a, ev("own"), exclude=member)
    fanout.to_member(member, ev("ack"))
    fanout.to_room(a, ev("a1"))
    away("2")
    back("2")
    fanout.to_room(a, ev("a2"))
    away("3")
    fanout.to_member(member, ev("last-reply"))
    turns.end_turn()
    assert member.tokens() == [
        "a0",
        "left-1",
        "reply-while-away",
        "room-1",
        "ack",
        "a1",
        "left-2",
        "room-2",
        "a2",
        "left-3",
        "last-reply",
    ]
    assert len(member.writes) == 1

    # The same with #b busy too (the member then has a stream merged from two rooms).
    b.add(member)
    fanout.to_room(b, ev("b0"))
    back("4")
    fanout.to_room(b, ev("b1"))
    fanout.to_room(a, ev("a3"))
    away("5")
    fanout.to_room(b, ev("b2"))
    back("6")
    fanout.to_room(a, ev("a4"))
    turns.end_turn()
    assert member.tokens()[11:] == ["b0", "room-4", "b1", "a3", "left-5", "b2", "room-6", "a4"]
    assert len(member.writes) == 2


# -- drain and cut ---------------------------------------------------------------------------


def test_drain_before_anything_is_queued_leaves_the_member_owed_nothing() -> None:
    # Its state from entering (with nothing queued yet) must go too.
    turns = Turns()
    wire = FakeWire("N")
    a = room("#a")
    members("o", 1, wire, a)
    member = FakeMember("m", wire)
    turns.fanout.entering(member, a)  # nothing queued yet this turn
    a.add(member)
    assert turns.fanout.drain(member) == b""
    assert member.fanout_state is None
    a.discard(member)
    turns.fanout.to_room(a, ev("after-it-went"))
    turns.end_turn()
    assert member.writes == []


def test_drain_gives_what_is_owed_so_far_and_the_flush_nothing_more() -> None:
    turns = Turns()
    wire = FakeWire("N")
    a, b = room("#a"), room("#b")
    others = members("o", 2, wire, a, b)
    goner = members("goner", 1, wire, a, b)[0]
    fanout = turns.fanout

    fanout.to_room(a, ev("a1"))
    fanout.to_room(b, ev("own"), exclude=goner)
    fanout.to_member(goner, ev("ack"))
    fanout.to_room(b, ev("b1"))
    assert fanout.drain(goner) == b"N<a1>N<ack>N<b1>"
    assert goner.fanout_state is None
    for each in list(goner.rooms):
        each.discard(goner)
    fanout.to_room(a, ev("left"))
    fanout.to_room(b, ev("b2"))
    turns.end_turn()

    assert goner.writes == []  # drain's bytes are the caller's to write
    for member in others:
        assert member.tokens() == ["a1", "own", "b1", "left", "b2"]


def test_drain_of_a_member_owed_nothing_is_empty() -> None:
    turns = Turns()
    wire = FakeWire("N")
    a = room("#a")
    member = members("m", 1, wire, a)[0]
    assert turns.fanout.drain(member) == b""
    turns.fanout.to_room(room("#elsewhere"), ev("x"))
    assert turns.fanout.drain(member) == b""
    turns.end_turn()
    assert member.writes == []


def test_cut_writes_what_is_owed_so_far_and_the_flush_only_what_came_after() -> None:
    turns = Turns()
    wire = FakeWire("N")
    a, b = room("#a"), room("#b")
    others = members("o", 2, wire, a)
    member = members("m", 1, wire, a, b)[0]
    fanout = turns.fanout

    fanout.to_room(a, ev("a1"))
    fanout.to_room(a, ev("own1"), exclude=member)
    fanout.to_member(member, ev("ack1"))
    fanout.to_room(b, ev("b1"))
    cut = fanout.cut(member)
    assert cut == b"N<a1>N<ack1>N<b1>"
    member.deliver(cut)
    fanout.to_member(member, ev("history"))
    fanout.to_room(a, ev("a2"))
    fanout.to_room(a, ev("own2"), exclude=member)
    fanout.to_member(member, ev("ack2"))
    fanout.to_room(b, ev("b2"))
    turns.end_turn()

    assert member.writes == [cut, b"N<history>N<a2>N<ack2>N<b2>"]
    for other in others:
        assert other.tokens() == ["a1", "own1", "a2", "own2"]


def test_cut_twice_and_in_a_room_entered_mid_turn() -> None:
    turns = Turns()
    wire = FakeWire("N")
    a, b = room("#a"), room("#b")
    members("o", 1, wire, a, b)
    member = members("m", 1, wire, a)[0]
    fanout = turns.fanout

    fanout.to_room(b, ev("b-before"))
    fanout.to_room(a, ev("a1"))
    fanout.entering(member, b)
    b.add(member)
    fanout.to_room(b, ev("b1"))
    first = fanout.cut(member)
    assert first == b"N<a1>N<b1>"
    assert fanout.cut(member) == b""
    fanout.to_room(a, ev("a2"))
    second = fanout.cut(member)
    assert second == b"N<a2>"
    fanout.to_room(b, ev("b2"))
    turns.end_turn()
    assert member.writes == [b"N<b2>"]


def test_cut_of_a_member_whose_rooms_had_no_traffic_yet() -> None:
    turns = Turns()
    wire = FakeWire("N")
    a, b = room("#a"), room("#b")
    member = members("m", 1, wire, a)[0]
    members("o", 1, wire, a)
    fanout = turns.fanout
    fanout.to_room(b, ev("elsewhere"))
    fanout.to_member(member, ev("r1"))
    assert fanout.cut(member) == b"N<r1>"
    fanout.to_room(a, ev("a1"))
    turns.end_turn()
    assert member.writes == [b"N<a1>"]


# -- writes and cost -------------------------------------------------------------------------


def test_one_write_per_member_per_turn_and_none_for_silent_events() -> None:
    turns = Turns()
    native, plain = FakeWire("N"), FakeWire("P", silent="ack")
    a, b = room("#a"), room("#b")
    natives = members("n", 3, native, a, b)
    plains = members("p", 3, plain, a)
    fanout = turns.fanout
    for n in range(50):
        fanout.to_room(a if n % 2 else b, ev(f"e{n}"), exclude=natives[n % 3])
        fanout.to_member(natives[n % 3], ev(f"ack-n{n}"))
        fanout.to_member(plains[n % 3], ev(f"ack-p{n}"))
    turns.end_turn()
    for member in natives:
        assert len(member.writes) == 1
        assert len(member.tokens()) == 50  # 2/3 of the 50 events, 1/3 acks
    for index, member in enumerate(plains):
        assert len(member.writes) == 1
        assert member.tokens() == [f"e{n}" for n in range(1, 50, 2)]  # acks render empty
        assert not any(token.startswith("ack") for token in member.tokens()), index

    # A turn in which a plain member is owed only what it does not show: no write at all.
    fanout.to_member(plains[0], ev("ack-only"))
    turns.end_turn()
    assert len(plains[0].writes) == 1


def test_no_flush_is_scheduled_for_an_idle_turn_and_one_for_a_busy_one() -> None:
    turns = Turns()
    wire = FakeWire("N")
    a = room("#a")
    member = members("m", 1, wire, a)[0]
    newcomer = FakeMember("new", wire)
    turns.fanout.entering(newcomer, a)
    a.add(newcomer)
    assert turns.scheduled == []  # entering queues nothing
    for n in range(5):
        turns.fanout.to_room(a, ev(f"e{n}"))
        turns.fanout.to_member(member, ev(f"r{n}"))
    assert len(turns.scheduled) == 1
    turns.end_turn()
    turns.fanout.flush()  # a stray flush with nothing queued writes nothing
    assert len(member.writes) == 1
    assert newcomer.tokens() == [f"e{n}" for n in range(5)]


@pytest.fixture
def layouts_built(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Records each (room, wire) whose shared stream fan-out builds."""
    built: list[tuple[str, str]] = []

    class CountingLayout(fanout_module._Layout):
        __slots__ = ()

        def __init__(self, wire: WireFormat, indices: list[int], queue: list[Any]) -> None:
            built.append((repr(queue[indices[0]][1]), repr(wire)))
            super().__init__(wire, indices, queue)

    monkeypatch.setattr(fanout_module, "_Layout", CountingLayout)
    return built


def test_n_senders_in_one_turn_stay_linear(layouts_built: list[tuple[str, str]]) -> None:
    """200 members each send one message (left out of their own stream, acked in its place)
    while 200 others listen: each event is rendered once, the room's shared stream is built
    once, the listeners share it, and each sender's stream is exactly what it is owed."""
    count = 200
    turns = Turns()
    wire = FakeWire("N")
    a = room("#a")
    senders = members("s", count, wire, a)
    listeners = members("l", count, wire, a)
    fanout = turns.fanout
    for index, sender in enumerate(senders):
        fanout.to_room(a, ev(f"m{index}"), exclude=sender)
        fanout.to_member(sender, ev(f"ack{index}"))
    turns.end_turn()

    assert sum(wire.renders.values()) == 2 * count
    assert set(wire.renders.values()) == {1}
    assert layouts_built == [("Group('#a')", "FakeWire('N')")]
    shared = listeners[0].writes[0]
    assert shared == b"".join(f"N<m{index}>".encode() for index in range(count))
    for listener in listeners:
        assert len(listener.writes) == 1
        assert listener.writes[0] is shared
    for index, sender in enumerate(senders):
        assert len(sender.writes) == 1
        expected = [f"m{n}" if n != index else f"ack{n}" for n in range(count)]
        assert sender.tokens() == expected
        assert len(sender.writes[0]) == len(shared) - len(f"N<m{index}>") + len(f"N<ack{index}>")


# -- a random model check --------------------------------------------------------------------

MEMBERS = 6
ROOMS = 3


class FanoutModel(RuleBasedStateMachine):
    """Random turns of to_room / to_member / entering / leaving / cut / drain over 3 rooms and
    6 members on two wire formats, each member's bytes checked against a plain list of what
    it should get, in order.

    A member that goes (drained, then taken out of its rooms) is owed nothing more, whether or
    not it is still writable; a new member takes its place at the end of the turn.
    """

    def __init__(self) -> None:
        super().__init__()
        self.native = FakeWire("N")
        self.plain = FakeWire("P", silent="q")
        self.loop = HandRunLoop()
        self.scheduled = self.loop.scheduled
        self.fanout = Fanout(self.loop)
        self.rooms = [room(f"#r{n}") for n in range(ROOMS)]
        self.members = [
            FakeMember(f"m{n}", self.native if n % 3 else self.plain) for n in range(MEMBERS)
        ]
        #: What each member should have received, all turns so far.
        self.expected: list[list[str]] = [[] for _ in self.members]
        self.gone: set[int] = set()  # drained and removed this turn: a dead connection
        self.writes_at_turn_start = [0] * MEMBERS
        self.cuts_this_turn = [0] * MEMBERS
        self.counter = 0

    def _token(self, silent: bool) -> str:
        self.counter += 1
        return f"{'q' if silent else 'e'}{self.counter}"

    def _shows(self, index: int, token: str) -> bool:
        return not (self.members[index].wire is self.plain and token.startswith("q"))

    def _in(self, index: int, room_index: int) -> bool:
        return self.rooms[room_index] in self.members[index].rooms

    @rule(
        room_index=st.integers(0, ROOMS - 1),
        exclude=st.none() | st.integers(0, MEMBERS - 1),
        silent=st.booleans(),
    )
    def to_room(self, room_index: int, exclude: int | None, silent: bool) -> None:
        if exclude is not None and exclude in self.gone:
            exclude = None
        token = self._token(silent)
        target = self.rooms[room_index]
        for index, member in enumerate(self.members):
            if target in member.rooms and index != exclude and self._shows(index, token):
                self.expected[index].append(token)
        self.fanout.to_room(
            target, ev(token), exclude=None if exclude is None else self.members[exclude]
        )

    @rule(index=st.integers(0, MEMBERS - 1), silent=st.booleans())
    def to_member(self, index: int, silent: bool) -> None:
        if index in self.gone:
            return
        token = self._token(silent)
        if self._shows(index, token):
            self.expected[index].append(token)
        self.fanout.to_member(self.members[index], ev(token))

    @rule(index=st.integers(0, MEMBERS - 1), room_index=st.integers(0, ROOMS - 1))
    def enter(self, index: int, room_index: int) -> None:
        if index in self.gone or self._in(index, room_index):
            return
        self.fanout.entering(self.members[index], self.rooms[room_index])
        self.rooms[room_index].add(self.members[index])

    @rule(index=st.integers(0, MEMBERS - 1), room_index=st.integers(0, ROOMS - 1))
    def leave(self, index: int, room_index: int) -> None:
        if index in self.gone or not self._in(index, room_index):
            return
        self.fanout.leaving(self.members[index], self.rooms[room_index])
        self.rooms[room_index].discard(self.members[index])

    @rule(index=st.integers(0, MEMBERS - 1))
    def cut(self, index: int) -> None:
        if index in self.gone:
            return
        member = self.members[index]
        data = self.fanout.cut(member)
        if data:
            member.deliver(data)
            self.cuts_this_turn[index] += 1
        assert member.tokens() == self.expected[index]

    @rule(index=st.integers(0, MEMBERS - 1), still_writable=st.booleans())
    def drain_and_go(self, index: int, still_writable: bool) -> None:
        """A connection going away: drained, then out of all its rooms, for the turn."""
        if index in self.gone:
            return
        member = self.members[index]
        data = self.fanout.drain(member)
        for each in list(member.rooms):
            each.discard(member)
        if data:
            member.deliver(data)
            self.cuts_this_turn[index] += 1
        assert member.tokens() == self.expected[index]
        member.writable = still_writable  # a real connection's transport is closing by now
        self.gone.add(index)

    @rule()
    def end_turn(self) -> None:
        assert len(self.scheduled) <= 1
        if self.scheduled:
            self.scheduled.pop()()
        for index, member in enumerate(self.members):
            assert member.tokens() == self.expected[index], member
            flushed = len(member.writes) - self.writes_at_turn_start[index]
            assert flushed - self.cuts_this_turn[index] <= 1, member  # one write a turn
        for index in self.gone:  # a new connection takes the place of a gone one
            old = self.members[index]
            self.members[index] = FakeMember(f"{old.name}'", old.wire)
            self.expected[index] = []
        self.writes_at_turn_start = [len(member.writes) for member in self.members]
        self.cuts_this_turn = [0] * MEMBERS
        self.gone.clear()

    @invariant()
    def flush_scheduled_iff_queued(self) -> None:
        assert len(self.scheduled) <= 1

    def teardown(self) -> None:
        if self.scheduled:
            self.end_turn()


FanoutModel.TestCase.settings = settings(
    max_examples=300,
    stateful_step_count=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_fanout_matches_the_model = FanoutModel.TestCase


class SlowMember(FakeMember):
    """A member whose every write moves the clock on: a flush that takes time."""

    def __init__(self, name: str, wire: WireFormat, clock: list[float], cost: float) -> None:
        super().__init__(name, wire)
        self.clock = clock
        self.cost = cost

    def deliver(self, data: bytes) -> None:
        super().deliver(data)
        self.clock[0] += self.cost


class Timed:
    """A fan-out with a 1 ms delay, a clock the test moves, and room #a with one member
    whose every write costs ``cost`` seconds of that clock."""

    def __init__(self, cost: float) -> None:
        self.loop = HandRunLoop()
        self.now = [100.0]
        self.fanout = Fanout(self.loop, delay=0.001, clock=lambda: self.now[0])
        self.room = room("#a")
        self.member = SlowMember("slow", FakeWire("N"), self.now, cost)
        self.room.add(self.member)

    def run_next(self) -> None:
        self.loop.scheduled.pop()()


def test_after_a_long_flush_the_next_waits_a_share_of_its_duration_after_it_ended() -> None:
    timed = Timed(cost=0.5)
    paced = 0.5 * fanout_module.PACE_FACTOR
    fanout, loop, a = timed.fanout, timed.loop, timed.room

    fanout.to_room(a, ev("first"))
    assert loop.delays == [0.0]  # a quiet loop: at the end of the turn
    timed.run_next()  # the flush takes 0.5 s

    timed.now[0] += 0.1
    fanout.to_room(a, ev("second"))
    assert loop.delays[-1] == pytest.approx(paced - 0.1)  # ``paced`` after the last flush ended
    timed.run_next()

    # Quiet again for longer than the paced share of the last flush, though not for as long
    # as the whole of it: no more pacing.
    timed.now[0] += paced + 0.01
    fanout.to_room(a, ev("third"))
    assert loop.delays[-1] == 0.0
    timed.run_next()
    assert timed.member.tokens() == ["first", "second", "third"]


def test_a_short_flush_does_not_pace_the_next() -> None:
    timed = Timed(cost=fanout_module.PACE_AFTER / 2)
    for token in ("first", "second"):
        timed.fanout.to_room(timed.room, ev(token))
        timed.run_next()
    # Not paced; but the second came right after a flush, so it waits the coalescing delay.
    assert timed.loop.delays == [0.0, 0.001]


def test_a_busy_server_gathers_events_for_the_delay_and_a_quiet_one_does_not() -> None:
    timed = Timed(cost=0.0)
    fanout, loop, a = timed.fanout, timed.loop, timed.room
    quiet = 0.001 * fanout_module.QUIET_FACTOR

    fanout.to_room(a, ev("lone"))  # nothing flushed lately: at the end of the turn
    timed.run_next()
    timed.now[0] += quiet / 2  # the next comes soon after that flush: busy...
    fanout.to_room(a, ev("soon"))
    fanout.to_room(a, ev("sooner"))
    assert loop.delays == [0.0, 0.001]  # ...so it waits the delay, and one flush takes both
    timed.run_next()

    timed.now[0] += quiet  # a quiet moment again
    fanout.to_room(a, ev("later"))
    assert loop.delays[-1] == 0.0
    timed.run_next()
    assert timed.member.writes == [b"N<lone>", b"N<soon>N<sooner>", b"N<later>"]


def test_without_a_delay_a_quiet_loop_flushes_at_the_end_of_the_turn() -> None:
    loop = HandRunLoop()
    fanout = Fanout(loop)
    a = room("#a")
    member = members("m", 1, FakeWire("N"), a)[0]
    fanout.to_room(a, ev("now"))
    assert loop.delays == [0.0]
    loop.scheduled.pop()()
    assert member.tokens() == ["now"]


def test_expedite_writes_at_the_end_of_the_turn_unless_the_last_flush_was_long() -> None:
    timed = Timed(cost=0.5)
    fanout, loop, a, slow = timed.fanout, timed.loop, timed.room, timed.member

    fanout.to_room(a, ev("first"))  # a flush is scheduled...
    fanout.expedite()  # ...and an immediate one, which writes it
    assert loop.delays == [0.0, 0.0]
    timed.run_next()
    assert slow.tokens() == ["first"]
    timed.run_next()  # the delayed one finds nothing left
    assert len(slow.writes) == 1

    timed.now[0] += 0.1  # the flush took 0.5 s and ended 0.1 s ago: pacing is in force
    fanout.expedite()
    fanout.to_room(a, ev("second"))
    paced = 0.5 * fanout_module.PACE_FACTOR - 0.1
    assert loop.delays[2:] == [pytest.approx(paced)]  # no immediate flush; the paced one
    timed.run_next()
    assert slow.tokens() == ["first", "second"]


def test_after_flush_runs_once_what_was_queued_is_written() -> None:
    turns = Turns()
    a = room("#a")
    member = members("m", 1, FakeWire("N"), a)[0]
    ran: list[list[str]] = []

    turns.fanout.after_flush(lambda: ran.append(member.tokens()))  # nothing queued: soon
    assert len(turns.scheduled) == 1
    turns.scheduled.pop()()
    assert ran == [[]]

    turns.fanout.to_room(a, ev("e1"))
    turns.fanout.after_flush(lambda: ran.append(member.tokens()))
    turns.end_turn()  # the flush writes e1, then schedules the callback
    assert ran == [[]]
    turns.scheduled.pop()()
    assert ran == [[], ["e1"]]
