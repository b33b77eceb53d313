"""The bookkeeping behind a lossless resume, without sockets: cursors, which page answers
what, and the outbox of lines awaiting their ack."""

from __future__ import annotations

from wirechat_client.outbox import Outbox
from wirechat_client.resume import PageKind, ResumeState
from wirechat_common import (
    Ack,
    GetHistory,
    History,
    Message,
    RoomInfo,
    Say,
    Welcome,
)


def page(room: str, *ids: int, more: bool = False) -> History:
    messages = [Message(id=n, ts=0, sender="bob", text="x", room=room) for n in ids]
    return History(room=room, messages=messages, more=more)


def registered(state: ResumeState, *rooms: tuple[str, int]) -> None:
    """Registered, in ``rooms``, each joined with a page ending at the id given."""
    state.hello("alice")
    state.welcome(Welcome(name="alice", users=["alice"], version=1, session="s", max_history=5))
    for room, last in rooms:
        state.room_info(RoomInfo(room=room, users=["alice"]))
        state.history(page(room, *([last] if last else [])))


def test_a_first_hello_is_plain_and_a_later_one_resumes() -> None:
    state = ResumeState()
    assert state.hello("alice").rooms is None
    registered(state, ("#lobby", 4), ("#Dev", 9))
    state.message(Message(id=12, ts=0, sender="bob", text="x", room="#dev"))
    state.message(Message(id=13, ts=0, sender="bob", text="x", to="alice"))
    state.acked(Say(text="x", room="#lobby"), Ack(id=14, ts=0))
    hello = state.hello("alice")
    assert (hello.session, hello.rooms, hello.dm_after) == ("s", {"#lobby": 14, "#Dev": 12}, 13)


def test_an_empty_join_page_starts_the_room_at_the_highest_id_seen() -> None:
    state = ResumeState()
    registered(state, ("#lobby", 40), ("#new", 0))
    assert state.hello("alice").rooms == {"#lobby": 40, "#new": 40}


def test_pages_are_told_apart_by_the_order_of_the_stream() -> None:
    state = ResumeState()
    registered(state, ("#lobby", 4))
    state.asked(GetHistory(room="#lobby", before=4))
    state.asked(GetHistory(room="@bob"))
    # A rejoin answered in between: its page comes right after its room frame.
    state.room_info(RoomInfo(room="#lobby", users=["alice"]))
    assert state.history(page("#lobby", 3, 4))[0] is PageKind.JOIN
    assert state.history(page("#lobby", 1, 2))[0] is PageKind.OLDER
    # A page the server could not read comes as an error: the next page is the next answer.
    state.asked(GetHistory(room="#lobby", before=1))
    state.asked(GetHistory(room="#lobby", after=4))
    state.page_failed()  # that was the @bob page
    assert state.history(page("#lobby"))[0] is PageKind.OLDER
    assert state.history(page("#lobby"))[0] is PageKind.MISSED


def test_catching_up_pages_forward_and_stops_at_the_live_messages() -> None:
    state = ResumeState()
    registered(state, ("#lobby", 4))
    state.hello("alice")
    state.welcome(Welcome(name="alice", users=["alice"], version=1, max_history=2))
    state.room_info(RoomInfo(room="#lobby", users=["alice"]))
    kind, follow = state.history(page("#lobby", 5, 6, more=True))
    assert kind is PageKind.MISSED
    assert follow == GetHistory(room="#lobby", after=6, limit=2)
    state.message(Message(id=9, ts=0, sender="bob", text="live", room="#lobby"))
    state.message(Message(id=10, ts=0, sender="bob", text="live", room="#lobby"))
    cursor = state.cursor("#lobby")
    assert cursor is not None
    assert (cursor.last, cursor.catching_up) == (6, True)  # 7 and 8 are still missing
    kind, follow = state.history(page("#lobby", 7, 8, more=True))
    assert follow == GetHistory(room="#lobby", after=8, limit=2)
    kind, follow = state.history(page("#lobby", 9, 10, more=True))  # reached the live ones
    assert follow is None
    assert (cursor.last, cursor.catching_up) == (10, False)


def test_the_outbox_resends_unacknowledged_lines_first_under_the_same_id() -> None:
    outbox = Outbox(limit=3, prefix="p")
    first, second = outbox.new("one"), outbox.new("two", room="#dev")
    assert (first.client_id, second.client_id) == ("p-1", "p-2")
    outbox.sent(first)
    outbox.sent(second)
    assert outbox.settle("p-1") == first
    third = outbox.new("three", to="bob")
    assert outbox.queue(third)  # typed offline
    outbox.connection_lost()
    assert outbox.pending_ids() == ("p-2", "p-3")
    assert outbox.queue(outbox.new("four"))
    assert not outbox.queue(outbox.new("five"))  # full
    assert [say.text for say in outbox.drain()] == ["two", "three", "four"]
    assert outbox.settle("nope") is None


def test_a_refused_room_is_not_resumed_and_a_failed_catch_up_is_asked_again() -> None:
    state = ResumeState()
    registered(state, ("#lobby", 4), ("#dev", 6))
    hello = state.hello("alice")
    assert hello.rooms == {"#lobby": 4, "#dev": 6}
    state.welcome(Welcome(name="alice", users=["alice"], version=1, session="s", max_history=5))
    state.room_info(RoomInfo(room="#lobby", users=["alice"]))
    state.page_failed("#lobby", retry=True)  # storage_unavailable for #lobby's missed page
    state.refused("#dev")  # too_many_rooms for #dev
    assert state.rooms == ["#lobby"]
    state.message(Message(id=9, ts=0, sender="bob", text="live", room="#lobby"))
    assert state.wants_retry()
    assert state.retries() == [GetHistory(room="#lobby", after=4, limit=5)]
    assert not state.wants_retry()
    kind, follow = state.history(page("#lobby", 5))
    assert (kind, follow) == (PageKind.MISSED, None)
    assert state.hello("alice").rooms == {"#lobby": 9}
