"""The chat core without sockets or storage: registration, sessions, rooms, messages, presence.

The clients here are recorders of the bytes the core hands them (storage is off, so no history
read ever holds their output); the core, its fan-out, the wire formats and the codec are the
real ones. The fan-out's flush is scheduled into a list and run by hand at the end of a turn.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest

from tests.support.hand_loop import HandRunLoop
from wirechat_common import (
    Ack,
    Decoder,
    Error,
    ErrorCode,
    History,
    Joined,
    LeaveReason,
    Left,
    Message,
    ProtocolError,
    RoomInfo,
    RoomList,
    RoomSummary,
    ServerMessage,
    Topic,
    Users,
    Welcome,
)
from wirechat_common.messages import AnyMessage
from wirechat_server.bus import WireFormat
from wirechat_server.core import ChatCore, ChatSettings
from wirechat_server.dialects.native import NATIVE
from wirechat_server.dialects.plain import PLAIN
from wirechat_server.fanout import Group, Special
from wirechat_server.identity import User

T = TypeVar("T")

TS = 1000


class FakeClient:
    """A registered connection as the core sees it, keeping every write."""

    def __init__(self, wire: WireFormat = NATIVE) -> None:
        self.name = ""
        self.user: User | None = None
        self.origin = ""  # exempt: per-address shares are tested over real sockets
        self.wire = wire
        self.rooms: list[Group] = []
        self.fanout_state: Special | None = None
        self.writable = True
        self.writes: list[bytes] = []
        self.held: list[bytes] | None = None
        self.holds = 0
        self._seen = 0

    def deliver(self, data: bytes) -> None:
        assert data, "the core wrote an empty buffer"
        if self.held is not None:
            self.held.append(data)
        else:
            self.writes.append(data)

    def render_reply(self, event: AnyMessage) -> bytes:
        return self.wire.render(event)

    def hold(self) -> None:
        self.holds += 1
        self.held = []

    def release(self, first: bytes) -> None:
        held, self.held = self.held or [], None
        self.writes.append(b"".join([first, *held]))

    def output_room(self) -> int:
        return 1 << 30  # a reader that keeps up (the bound is the connection's business)

    def all_messages(self) -> list[AnyMessage]:
        """Everything written to this client so far, decoded."""
        decoded: list[AnyMessage] = Decoder(1 << 24, types=ServerMessage).feed(
            b"".join(self.writes)
        )
        return decoded

    def new(self) -> list[AnyMessage]:
        """What arrived since the last call."""
        messages = self.all_messages()
        fresh, self._seen = messages[self._seen :], len(messages)
        return fresh


class HandCore:
    """A core whose flushes run when the test says the turn is over."""

    def __init__(self, **settings: Any) -> None:
        self.loop = HandRunLoop()
        self.scheduled = self.loop.scheduled
        self.core = ChatCore(
            loop=self.loop,
            settings=ChatSettings(**settings),
            log=None,
            clock=lambda: TS,
        )

    def turn(self) -> None:
        """End the turn: run the flush, if one was scheduled (never more than one)."""
        assert len(self.scheduled) <= 1
        while self.scheduled:
            self.scheduled.pop()()

    def connect(self, name: str, **kwargs: Any) -> FakeClient:
        """Register a new client as ``name`` and end the turn."""
        client = FakeClient(kwargs.pop("wire", NATIVE))
        self.core.register(client, name, **kwargs)
        self.turn()
        return client


@pytest.fixture
def chat() -> Iterator[HandCore]:
    made = HandCore()
    yield made
    # Storage is off: no history read ever held a client's output.
    assert not made.scheduled


def only(messages: list[AnyMessage], kind: type[T]) -> T:
    assert len(messages) == 1, messages
    message = messages[0]
    assert isinstance(message, kind), message
    return message


def refused(call: Callable[[], object], code: ErrorCode) -> ProtocolError:
    with pytest.raises(ProtocolError) as caught:
        call()
    assert caught.value.code == code, caught.value
    return caught.value


# -- registration ----------------------------------------------------------------------------


def test_registration_sends_welcome_then_the_lobby_then_its_history(chat: HandCore) -> None:
    alice = chat.connect("alice")
    welcome, room, history = alice.new()
    assert isinstance(welcome, Welcome)
    assert (welcome.name, welcome.users) == ("alice", ["alice"])
    assert welcome.session
    assert welcome.max_history == 0  # storage off: no history to ask for
    assert welcome.max_rooms == ChatSettings().max_rooms_per_user
    assert room == RoomInfo(room="#lobby", users=["alice"])
    assert history == History(room="#lobby", messages=[], more=False)
    assert len(alice.writes) == 1  # the three frames in one write
    assert alice.holds == 0

    bob = chat.connect("Bob")
    welcome, room, history = bob.new()
    assert isinstance(welcome, Welcome)
    assert (welcome.name, welcome.users) == ("Bob", ["alice", "Bob"])
    assert room == RoomInfo(room="#lobby", users=["alice", "Bob"])
    assert history == History(room="#lobby", messages=[])
    assert alice.new() == [Joined(name="Bob", ts=TS, room="#lobby")]
    assert chat.core.users() == ["alice", "Bob"]
    assert len(chat.core) == 2


def test_a_name_in_use_in_any_case_is_refused_and_nobody_hears_of_it(chat: HandCore) -> None:
    alice = chat.connect("alice")
    alice.new()
    impostor = FakeClient()
    for name in ("alice", "ALICE", "Alice"):
        refused(lambda name=name: chat.core.register(impostor, name), ErrorCode.NAME_TAKEN)  # type: ignore[misc]
        chat.turn()
    # A wrong session token is no better than none.
    refused(lambda: chat.core.register(impostor, "alice", session="x" * 43), ErrorCode.NAME_TAKEN)
    chat.turn()
    assert impostor.writes == []
    assert impostor.user is None
    assert impostor.rooms == []
    assert alice.new() == []
    assert chat.core.users() == ["alice"]
    assert chat.core.is_taken("ALICE")


def test_hello_with_more_rooms_than_allowed_is_refused_before_registering() -> None:
    chat = HandCore(max_rooms_per_user=2)
    client = FakeClient()
    rooms = {"#a": 0, "#b": 0, "#c": 0}
    refused(lambda: chat.core.register(client, "alice", rooms=rooms), ErrorCode.TOO_MANY_ROOMS)
    assert not chat.core.is_taken("alice")
    assert client.writes == []
    assert client.user is None


def test_hello_with_rooms_joins_exactly_those_in_order() -> None:
    chat = HandCore()
    lurker = chat.connect("lurker", rooms={"#b": 0})
    lurker.new()
    client = chat.connect("alice", rooms={"#b": 0, "#a": 0})
    welcome, room_b, history_b, room_a, history_a = client.new()
    assert isinstance(welcome, Welcome)
    assert room_b == RoomInfo(room="#b", users=["alice", "lurker"])
    assert history_b == History(room="#b", messages=[])
    assert room_a == RoomInfo(room="#a", users=["alice"])
    assert history_a == History(room="#a", messages=[])
    assert {room.name for room in client.rooms} == {"#a", "#b"}
    assert lurker.new() == [Joined(name="alice", ts=TS, room="#b")]

    nowhere = chat.connect("nowhere", rooms={})
    assert [type(message) for message in nowhere.new()] == [Welcome]
    assert nowhere.rooms == []


# -- sessions --------------------------------------------------------------------------------


def test_a_second_connection_with_the_session_joins_the_same_user(chat: HandCore) -> None:
    bob = chat.connect("bob")
    bob.new()
    first = chat.connect("alice")
    welcome = first.new()[0]
    assert isinstance(welcome, Welcome)
    assert welcome.session is not None
    assert bob.new() == [Joined(name="alice", ts=TS, room="#lobby")]

    second = chat.connect("ALICE", session=welcome.session)
    welcome2, room, history = second.new()
    assert isinstance(welcome2, Welcome)
    assert welcome2.name == "alice"  # the user's name as first registered
    assert welcome2.users == ["alice", "bob"]  # once, though on two connections
    assert welcome2.session == welcome.session
    assert room == RoomInfo(room="#lobby", users=["alice", "bob"])
    assert isinstance(history, History)
    assert first.user is second.user
    assert chat.core.users() == ["alice", "bob"]
    assert len(chat.core) == 2
    assert bob.new() == []  # joined was announced once, for the first connection
    assert first.new() == []

    chat.core.who(bob, "#lobby")
    chat.turn()
    assert bob.new() == [Users(users=["alice", "bob"], room="#lobby")]

    # Only the last connection to go makes the user leave.
    chat.core.leave(first, LeaveReason.QUIT)
    chat.turn()
    assert bob.new() == []
    assert chat.core.users() == ["alice", "bob"]
    chat.core.leave(second, LeaveReason.DROPPED)
    chat.turn()
    assert bob.new() == [Left(name="alice", reason="dropped", ts=TS, room="#lobby")]
    assert chat.core.users() == ["bob"]


def test_the_session_outlives_the_last_connection_and_a_fresh_claim_gets_a_new_one(
    chat: HandCore,
) -> None:
    first = chat.connect("alice")
    token = only(first.new()[:1], Welcome).session
    chat.core.leave(first, LeaveReason.DROPPED)
    chat.turn()
    back = chat.connect("alice", session=token)
    assert only(back.new()[:1], Welcome).session == token
    chat.core.leave(back, LeaveReason.QUIT)
    chat.turn()
    stranger = chat.connect("alice")
    assert only(stranger.new()[:1], Welcome).session != token


# -- rooms -----------------------------------------------------------------------------------


def test_join_part_who_topic_and_the_room_list(chat: HandCore) -> None:
    alice = chat.connect("alice")
    bob = chat.connect("bob")
    alice.new()
    bob.new()
    core = chat.core

    core.join(alice, "#Dev")
    chat.turn()
    assert alice.new() == [
        RoomInfo(room="#Dev", users=["alice"]),
        History(room="#Dev", messages=[]),
    ]
    assert bob.new() == []

    core.join(bob, "#dev")  # room names compare case-insensitively
    chat.turn()
    assert bob.new() == [
        RoomInfo(room="#Dev", users=["alice", "bob"]),
        History(room="#Dev", messages=[]),
    ]
    assert alice.new() == [Joined(name="bob", ts=TS, room="#Dev")]

    core.join(bob, "#DEV")  # already in it: room and history again, nothing else
    chat.turn()
    assert [type(message) for message in bob.new()] == [RoomInfo, History]
    assert alice.new() == []

    core.who(alice, "#dev")
    core.who(alice, None)
    chat.turn()
    assert alice.new() == [
        Users(users=["alice", "bob"], room="#Dev"),
        Users(users=["alice", "bob"]),
    ]

    core.set_topic(alice, "#dev", "release day")
    chat.turn()
    topic = Topic(room="#Dev", topic="release day", by="alice", ts=TS)
    assert alice.new() == [topic]  # the setter hears it too
    assert bob.new() == [topic]

    carol = chat.connect("carol")
    carol.new()
    core.join(carol, "#dev")
    chat.turn()
    assert carol.new()[0] == RoomInfo(
        room="#Dev", users=["alice", "bob", "carol"], topic="release day"
    )
    assert bob.new() == [
        Joined(name="carol", ts=TS, room="#lobby"),
        Joined(name="carol", ts=TS, room="#Dev"),
    ]
    refused(lambda: core.set_topic(carol, "#lobby2", "x"), ErrorCode.NOT_MEMBER)
    core.join(carol, "#zoo")
    chat.turn()
    carol.new()

    core.list_rooms(bob)
    chat.turn()
    assert bob.new() == [
        RoomList(
            rooms=[
                RoomSummary(room="#Dev", users=3, topic="release day"),
                RoomSummary(room="#lobby", users=3),
                RoomSummary(room="#zoo", users=1),
            ]
        )
    ]

    core.part(bob, "#dev")
    chat.turn()
    left = Left(name="bob", reason="part", ts=TS, room="#Dev")
    assert bob.new() == [left]  # its own confirmation
    assert alice.new() == [
        Joined(name="carol", ts=TS, room="#lobby"),
        Joined(name="carol", ts=TS, room="#Dev"),
        left,
    ]
    assert carol.new() == [left]
    refused(lambda: core.who(bob, "#dev"), ErrorCode.NOT_MEMBER)
    refused(lambda: core.part(bob, "#dev"), ErrorCode.NOT_MEMBER)
    refused(lambda: core.set_topic(bob, "#dev", "mine"), ErrorCode.NOT_MEMBER)
    refused(lambda: core.part(bob, "#nowhere"), ErrorCode.NOT_MEMBER)
    chat.turn()
    assert bob.new() == []


def test_rooms_without_members_disappear_but_the_lobby_stays(chat: HandCore) -> None:
    alice = chat.connect("alice")
    bob = chat.connect("bob")
    core = chat.core
    core.join(alice, "#temp")
    core.set_topic(alice, "#temp", "short-lived")
    core.join(bob, "#temp")
    chat.turn()
    core.part(alice, "#temp")
    chat.turn()
    core.leave(bob, LeaveReason.QUIT)  # the last one in #temp goes with its connection
    chat.turn()
    core.part(alice, "#lobby")  # nobody in the lobby now
    chat.turn()
    alice.new()
    core.list_rooms(alice)
    chat.turn()
    assert alice.new() == [RoomList(rooms=[RoomSummary(room="#lobby", users=0)])]

    # A room made again later starts afresh: no topic.
    core.join(alice, "#temp")
    chat.turn()
    assert alice.new()[0] == RoomInfo(room="#temp", users=["alice"])


def test_max_rooms_per_user() -> None:
    chat = HandCore(max_rooms_per_user=3)
    alice = chat.connect("alice")  # the lobby is one
    core = chat.core
    core.join(alice, "#a")
    core.join(alice, "#b")
    chat.turn()
    alice.new()
    refused(lambda: core.join(alice, "#c"), ErrorCode.TOO_MANY_ROOMS)
    core.join(alice, "#A")  # one it is in already is fine
    chat.turn()
    assert [type(message) for message in alice.new()] == [RoomInfo, History]
    core.part(alice, "#a")
    core.join(alice, "#c")
    chat.turn()
    assert {room.name for room in alice.rooms} == {"#lobby", "#b", "#c"}


def test_max_rooms_on_the_server() -> None:
    chat = HandCore(max_rooms=3)  # the lobby and two more
    alice = chat.connect("alice")
    bob = chat.connect("bob")
    core = chat.core
    core.join(alice, "#a")
    core.join(alice, "#b")
    chat.turn()
    refused(lambda: core.join(bob, "#c"), ErrorCode.TOO_MANY_ROOMS)
    core.join(bob, "#a")  # an existing room is no new room
    chat.turn()
    core.part(alice, "#b")  # #b is forgotten: there is room for one more
    chat.turn()
    core.join(bob, "#c")
    chat.turn()
    assert {room.name for room in bob.rooms} == {"#lobby", "#a", "#c"}
    # In a hello, a room over the limit is refused but the registration goes on.
    carol = FakeClient()
    core.register(carol, "carol", rooms={"#a": 0, "#d": 0, "#c": 0})
    chat.turn()
    kinds = [type(message).__name__ for message in carol.all_messages()]
    assert kinds == ["Welcome", "RoomInfo", "History", "RoomInfo", "History", "Error"]
    error = carol.all_messages()[-1]
    assert isinstance(error, Error)
    assert (error.code, error.fatal) == (ErrorCode.TOO_MANY_ROOMS, False)
    assert {room.name for room in carol.rooms} == {"#a", "#c"}


# -- messages --------------------------------------------------------------------------------


def test_say_reaches_the_room_but_the_sender_which_gets_its_ack(chat: HandCore) -> None:
    alice = chat.connect("alice")
    bob = chat.connect("bob")
    carol = chat.connect("carol", wire=PLAIN)
    outsider = chat.connect("dave", rooms={"#elsewhere": 0})
    core = chat.core
    core.join(alice, "#dev")
    core.join(bob, "#dev")
    chat.turn()
    for client in (alice, bob, outsider):
        client.new()
    carol.writes.clear()
    writes_before = [len(client.writes) for client in (alice, bob)]

    core.say(alice, "in the lobby", client_id="a1")
    core.say(bob, "in dev", client_id="b1", room="#DEV")
    core.say(alice, "waves", action=True, client_id="a2", room="#dev")
    chat.turn()

    assert alice.new() == [
        Ack(id=1, ts=TS, client_id="a1"),
        Message(id=2, ts=TS, sender="bob", text="in dev", room="#dev"),
        Ack(id=3, ts=TS, client_id="a2"),
    ]
    assert bob.new() == [
        Message(id=1, ts=TS, sender="alice", text="in the lobby", room="#lobby"),
        Ack(id=2, ts=TS, client_id="b1"),
        Message(id=3, ts=TS, sender="alice", text="waves", action=True, room="#dev"),
    ]
    assert carol.writes == [b"alice: in the lobby\n"]
    assert outsider.new() == []
    # One write each for the whole turn.
    assert [len(alice.writes), len(bob.writes)] == [n + 1 for n in writes_before]


def test_say_to_a_room_one_is_not_in_is_refused_with_the_client_id(chat: HandCore) -> None:
    alice = chat.connect("alice")
    bob = chat.connect("bob")
    chat.core.join(bob, "#private")
    chat.turn()
    alice.new()
    bob.new()
    for name in ("#private", "#nonexistent"):
        error = refused(
            lambda name=name: chat.core.say(alice, "psst", client_id="c7", room=name),  # type: ignore[misc]
            ErrorCode.NOT_MEMBER,
        )
        assert error.client_id == "c7"
        assert not error.fatal
    chat.turn()
    assert alice.new() == []
    assert bob.new() == []

    chat.core.part(alice, "#lobby")
    chat.turn()
    error = refused(lambda: chat.core.say(alice, "hello?"), ErrorCode.NOT_MEMBER)
    assert error.client_id is None


def test_direct_messages_reach_every_connection_of_both_users_but_the_sender(
    chat: HandCore,
) -> None:
    a1 = chat.connect("alice")
    token = only(a1.new()[:1], Welcome).session
    a2 = chat.connect("alice", session=token)
    b1 = chat.connect("bob")
    b2 = chat.connect("bob", session=only(b1.new()[:1], Welcome).session)
    carol = chat.connect("carol")
    plain = chat.connect("pat", wire=PLAIN)
    for client in (a1, a2, b1, b2, carol):
        client.new()
    plain.writes.clear()
    core = chat.core

    core.direct(a1, "BOB", "psst", client_id="d1")
    chat.turn()
    dm = Message(id=1, ts=TS, sender="alice", text="psst", to="bob")
    assert a1.new() == [Ack(id=1, ts=TS, client_id="d1")]
    assert a2.new() == [dm]
    assert b1.new() == [dm]
    assert b2.new() == [dm]
    assert carol.new() == []
    assert plain.writes == []

    core.direct(b2, "alice", "hi back", action=True)
    chat.turn()
    back = Message(id=2, ts=TS, sender="bob", text="hi back", action=True, to="alice")
    assert a1.new() == [back]
    assert a2.new() == [back]
    assert b1.new() == [back]
    assert b2.new() == [Ack(id=2, ts=TS)]

    core.direct(a2, "alice", "note to self", client_id="self")
    core.direct(carol, "pat", "hello pat")
    chat.turn()
    assert a1.new() == [Message(id=3, ts=TS, sender="alice", text="note to self", to="alice")]
    assert a2.new() == [Ack(id=3, ts=TS, client_id="self")]
    assert b1.new() == b2.new() == []
    assert plain.writes == [b"*carol* hello pat\n"]

    error = refused(
        lambda: core.direct(a1, "nobody", "anyone?", client_id="d9"), ErrorCode.NO_SUCH_USER
    )
    assert error.client_id == "d9"
    chat.turn()
    assert a1.new() == []


def test_leaving_announces_to_every_room_and_the_leaver_gets_what_it_was_owed(
    chat: HandCore,
) -> None:
    alice = chat.connect("alice")
    bob = chat.connect("bob")
    core = chat.core
    core.join(alice, "#dev")
    core.join(bob, "#dev")
    chat.turn()
    alice.new()
    bob.new()

    before = len(alice.writes)
    core.say(alice, "last words", room="#dev")
    core.say(bob, "reply", client_id="r")
    core.leave(bob, LeaveReason.TIMEOUT)
    core.say(alice, "anyone?")
    chat.turn()
    assert bob.new() == [
        Message(id=1, ts=TS, sender="alice", text="last words", room="#dev"),
        Ack(id=2, ts=TS, client_id="r"),
    ]
    got = alice.new()
    assert got[:2] == [
        Ack(id=1, ts=TS),
        Message(id=2, ts=TS, sender="bob", text="reply", room="#lobby"),
    ]
    # One left for each of its rooms (in no particular order), then what came after.
    assert sorted(got[2:4], key=repr) == [
        Left(name="bob", reason="timeout", ts=TS, room="#dev"),
        Left(name="bob", reason="timeout", ts=TS, room="#lobby"),
    ]
    assert got[4:] == [Ack(id=3, ts=TS)]
    assert len(alice.writes) == before + 1
    assert chat.core.users() == ["alice"]


def test_a_shutdown_leave_is_not_announced(chat: HandCore) -> None:
    alice = chat.connect("alice")
    bob = chat.connect("bob")
    alice.new()
    chat.core.leave(bob, LeaveReason.SHUTDOWN, announce=False)
    chat.turn()
    assert alice.new() == []
    assert chat.core.users() == ["alice"]


def test_a_thousand_senders_in_one_turn_each_get_everyone_elses_lines() -> None:
    chat = HandCore()
    clients = [chat.connect(f"u{index:04}") for index in range(1000)]
    for client in clients:
        client.new()
    for index, client in enumerate(clients):
        chat.core.say(client, str(index), client_id=f"c{index}")
    chat.turn()
    for index in (0, 1, 500, 999):
        got = clients[index].new()
        assert len(got) == 1000
        for n, message in enumerate(got):
            if n == index:
                assert message == Ack(id=n + 1, ts=TS, client_id=f"c{n}")
            else:
                assert isinstance(message, Message)
                assert (message.sender, message.text) == (f"u{n:04}", str(n))


def test_part_and_join_again_in_one_turn_loses_nothing(chat: HandCore) -> None:
    alice = chat.connect("alice")
    bob = chat.connect("bob")
    core = chat.core
    core.join(alice, "#dev")
    core.join(bob, "#dev")
    chat.turn()
    alice.new()
    bob.new()

    core.say(alice, "said before bob's part", room="#dev")
    core.part(bob, "#dev")
    core.say(alice, "said while bob was out", room="#dev")
    core.join(bob, "#dev")
    core.say(alice, "said after bob came back", room="#dev")
    chat.turn()
    got = bob.new()
    assert [type(message) for message in got] == [Message, Left, RoomInfo, History, Message]
    assert [m.text for m in got if isinstance(m, Message)] == [
        "said before bob's part",
        "said after bob came back",
    ]
    assert [type(message) for message in alice.new()] == [Ack, Left, Ack, Joined, Ack]
