"""Rooms over real sockets: join, part, rooms, topics, who, per-room presence and delivery, the
room limits, membership checks (G3) and room-name rules (spec /tmp/spec/rooms.md, 1-2, 5-12, 15).

"Nothing arrived" is always shown by a marker sent afterwards arriving first: the server handles
one connection's requests in order and fans out in id order, so anything it had sent would come
before the marker.
"""

from __future__ import annotations

import pytest

from tests.support.net import PlainClient
from tests.support.rooms import Chat, of_type, of_types, quiet, serving
from wirechat_common import (
    DEFAULT_ROOM,
    Bye,
    Error,
    ErrorCode,
    GetHistory,
    Hello,
    History,
    Join,
    Joined,
    LeaveReason,
    Left,
    ListRooms,
    Message,
    Part,
    RoomInfo,
    RoomList,
    RoomSummary,
    Say,
    SetTopic,
    Topic,
    Users,
    Welcome,
    Who,
    encode,
)
from wirechat_common.messages import AnyMessage

pytestmark = pytest.mark.timeout(30)


def lobby(message: Message) -> bool:
    """Whether ``message`` was said in the lobby (its ``room`` may be left out for it)."""
    return message.to is None and (message.room or DEFAULT_ROOM) == DEFAULT_ROOM


async def rooms_of(client: Chat) -> list[RoomSummary]:
    reply = await client.reply_to(ListRooms(), RoomList)
    assert isinstance(reply, RoomList)
    return reply.rooms


async def who(client: Chat, room: str | None = None) -> Users:
    reply = await client.reply_to(Who(room=room), Users, Error)
    assert isinstance(reply, Users), reply
    return reply


async def marker(sender: Chat, *witnesses: Chat, text: str = "marker") -> None:
    """``sender`` says ``text`` in the lobby; the next message each witness gets must be it
    (other frames before it stay in the witness's inbox)."""
    await sender.say(text)
    for witness in witnesses:
        seen = await witness.answer(Message)
        assert isinstance(seen, Message)
        assert (seen.sender, seen.text) == (sender.name, text)
        assert lobby(seen)


# -- registering: the lobby ------------------------------------------------------------------------


async def test_hello_gets_the_welcome_then_the_lobby_then_its_history() -> None:
    async with serving(max_history=30, history_on_join=10, max_rooms_per_user=7) as server:
        alice = await Chat.hello(server, "alice")
        assert alice.welcome is not None
        assert alice.welcome.session
        assert (alice.welcome.max_history, alice.welcome.max_rooms) == (30, 7)
        assert alice.welcome.users == ["alice"]
        assert await alice.drain() == [
            RoomInfo(room="#lobby", users=["alice"]),
            History(room="#lobby", messages=[]),
        ]

        bob = await Chat.hello(server, "bob")
        assert bob.welcome is not None
        assert bob.welcome.users == ["alice", "bob"]
        assert bob.welcome.session != alice.welcome.session
        (info, history) = await bob.drain()
        assert info == RoomInfo(room="#lobby", users=["alice", "bob"])
        assert history == History(room="#lobby", messages=[])
        (joined,) = await alice.drain()
        assert isinstance(joined, Joined)
        assert (joined.room, joined.name) == ("#lobby", "bob")
        await alice.close()
        await bob.close()


async def test_hello_with_no_rooms_joins_none_and_the_lobby_is_then_not_its_room() -> None:
    async with serving() as server:
        alice = await Chat.hello(server, "alice")
        await alice.drain()
        hermit = await Chat.hello(server, "hermit", rooms={})
        assert await hermit.drain() == []  # no room, no history
        # Not in the lobby: nobody there was told, and the lobby is not its room.
        error = await hermit.refused(Say(text="hi", client_id="h1"))
        assert (error.code, error.client_id, error.fatal) == (ErrorCode.NOT_MEMBER, "h1", False)
        assert (await who(alice, "#lobby")).users == ["alice"]
        assert (await who(hermit)).users == ["alice", "hermit"]  # but it is connected
        assert [item for item in await alice.drain() if isinstance(item, Joined)] == []
        await alice.close()
        await hermit.close()


async def test_hello_with_more_rooms_than_allowed_is_refused_and_may_be_retried() -> None:
    async with serving(max_rooms_per_user=2) as server:
        client = await Chat.open(server)
        refusal = await client.register("alice", rooms={"#a": 0, "#b": 0, "#c": 0})
        assert isinstance(refusal, Error)
        assert (refusal.code, refusal.fatal) == (ErrorCode.TOO_MANY_ROOMS, False)
        # Not registered: the name is free, and the same connection may try again.
        other = await Chat.hello(server, "watcher")
        assert (await who(other)).users == ["watcher"]
        welcome = await client.register("alice", rooms={"#b": 0, "#a": 0})
        assert isinstance(welcome, Welcome)
        frames = await client.drain()
        # In the order given: room then history, for each.
        assert [(type(f).__name__, getattr(f, "room", None)) for f in frames] == [
            ("RoomInfo", "#b"),
            ("History", "#b"),
            ("RoomInfo", "#a"),
            ("History", "#a"),
        ]
        await client.close()
        await other.close()


# -- join, who, topic, rooms, part ------------------------------------------------------------


async def test_join_who_topic_rooms_and_part() -> None:
    async with serving() as server:
        alice = await Chat.hello(server, "alice")
        bob = await Chat.hello(server, "bob")
        carol = await Chat.hello(server, "carol")
        for client in (alice, bob, carol):
            await client.drain()

        info, history = await alice.join("#rust")
        assert info == RoomInfo(room="#rust", users=["alice"])
        assert history == History(room="#rust", messages=[])
        info, _ = await bob.join("#rust")
        assert info.users == ["alice", "bob"]
        (joined,) = await quiet(alice, Joined)
        assert isinstance(joined, Joined)
        assert (joined.room, joined.name) == ("#rust", "bob")
        assert await carol.drain() == []  # not in #rust: not told

        assert await who(alice, "#rust") == Users(room="#rust", users=["alice", "bob"])
        assert await who(alice) == Users(users=["alice", "bob", "carol"])

        await alice.send(SetTopic(room="#rust", topic="borrow checking"))
        for client in (alice, bob):  # the setter included
            topic = await client.answer(Topic)
            assert isinstance(topic, Topic)
            assert (topic.room, topic.topic, topic.by) == ("#rust", "borrow checking", "alice")
            assert topic.ts > 1_600_000_000_000
        assert await carol.drain() == []

        info, _ = await carol.join("#rust")
        assert info == RoomInfo(
            room="#rust", users=["alice", "bob", "carol"], topic="borrow checking"
        )
        assert await rooms_of(carol) == [
            RoomSummary(room="#lobby", users=3),
            RoomSummary(room="#rust", users=3, topic="borrow checking"),
        ]

        await bob.send(Part(room="#rust"))
        for client in (alice, bob, carol):  # the parter too, as confirmation
            left = await client.answer(Left)
            assert isinstance(left, Left)
            assert (left.room, left.name, left.reason) == ("#rust", "bob", LeaveReason.PART)
        assert (await who(carol, "#rust")).users == ["alice", "carol"]
        # bob is still connected and still in the lobby.
        assert (await who(carol, "#lobby")).users == ["alice", "bob", "carol"]
        error = await bob.refused(Who(room="#rust"))
        assert error.code == ErrorCode.NOT_MEMBER
        for client in (alice, bob, carol):
            await client.close()


async def test_joining_a_room_one_is_in_sends_room_and_history_again_and_nothing_else() -> None:
    async with serving() as server:
        alice = await Chat.hello(server, "alice")
        bob = await Chat.hello(server, "bob")
        await alice.join("#r")
        await bob.join("#r")
        await alice.say("in r", room="#r")
        await alice.drain()
        await bob.drain()
        info, history = await bob.join("#r")
        assert info.users == ["alice", "bob"]
        assert [m.text for m in history.messages] == ["in r"]
        assert await quiet(bob) == []
        assert await alice.drain() == []  # no second joined
        await alice.close()
        await bob.close()


async def test_room_names_compare_case_insensitively() -> None:
    async with serving() as server:
        alice = await Chat.hello(server, "alice")
        bob = await Chat.hello(server, "bob")
        await alice.join("#Rust")
        info, _ = await bob.join("#RUST")
        assert info.room.lower() == "#rust"
        assert info.users == ["alice", "bob"]
        await bob.say("hi", room="#rust")
        message = await alice.answer(Message)
        assert isinstance(message, Message)
        assert (message.text, (message.room or "").lower()) == ("hi", "#rust")
        assert [s.room.lower() for s in await rooms_of(alice)] == ["#lobby", "#rust"]
        await alice.close()
        await bob.close()


# -- who gets what ----------------------------------------------------------------------------


async def test_room_messages_reach_exactly_the_room_members() -> None:
    async with serving() as server:
        alice = await Chat.hello(server, "alice")
        bob = await Chat.hello(server, "bob")
        carol = await Chat.hello(server, "carol")
        await alice.join("#rust")
        await bob.join("#rust")
        for client in (alice, bob, carol):
            await client.drain()

        ack = await alice.say("ownership", room="#rust", client_id="r1")
        message = await bob.answer(Message)
        assert message == Message(
            id=ack.id, ts=ack.ts, sender="alice", text="ownership", room="#rust"
        )
        # carol, in the lobby only, gets the lobby marker said after it, and nothing before.
        await marker(alice, carol, bob)
        assert of_type(await alice.drain(), Message) == []  # never one's own message back
        assert of_type(await carol.drain(), Message) == []
        # A say without room is a lobby message, to everyone in the lobby.
        await carol.say("lobby line")
        for client in (alice, bob):
            seen = await client.answer(Message)
            assert isinstance(seen, Message)
            assert seen.text == "lobby line"
            assert lobby(seen)
        for client in (alice, bob, carol):
            await client.close()


async def test_presence_is_per_room() -> None:
    async with serving() as server:
        alice = await Chat.hello(server, "alice")  # #lobby and #r
        carol = await Chat.hello(server, "carol")  # #lobby only
        dave = await Chat.hello(server, "dave", rooms={"#r": 0})  # #r only
        await alice.join("#r")
        for client in (alice, carol, dave):
            await client.drain()

        bob = await Chat.hello(server, "bob")  # lobby: alice and carol are told, dave is not
        await bob.join("#r")  # #r: alice and dave are told, carol is not
        await bob.drain()
        seen = {
            name: [(j.room, j.name) for j in of_type(await client.drain(), Joined)]
            for name, client in (("alice", alice), ("carol", carol), ("dave", dave))
        }
        assert seen == {
            "alice": [("#lobby", "bob"), ("#r", "bob")],
            "carol": [("#lobby", "bob")],
            "dave": [("#r", "bob")],
        }

        # bob leaves the chat: one left per room he was in, to that room's members only.
        await bob.send(Bye())
        await bob.expect_closed()
        # Markers in both rooms: everything meant for each witness came before them.
        await marker(alice, carol)
        await dave.say("r marker", room="#r")
        arrived = await alice.answer(Message)
        assert isinstance(arrived, Message)
        assert arrived.text == "r marker"
        lefts = {
            name: sorted((left.room or "", left.name, left.reason) for left in of_type(seen, Left))
            for name, seen in (
                ("alice", await alice.drain()),
                ("carol", await carol.drain()),
                ("dave", await dave.drain()),
            )
        }
        assert lefts == {
            "alice": [("#lobby", "bob", LeaveReason.QUIT), ("#r", "bob", LeaveReason.QUIT)],
            "carol": [("#lobby", "bob", LeaveReason.QUIT)],
            "dave": [("#r", "bob", LeaveReason.QUIT)],
        }
        for client in (alice, carol, dave):
            await client.close()


async def test_presence_counts_users_not_connections() -> None:
    async with serving() as server:
        alice = await Chat.hello(server, "alice")
        bob = await Chat.hello(server, "bob")
        await alice.drain()
        # A second connection of bob's, attached with his session: nobody is told, he is there.
        bob2 = await Chat.hello(server, "bob", session=bob.session)
        assert bob2.welcome is not None
        assert bob2.welcome.users == ["alice", "bob"]
        await bob2.join("#r")
        info, _ = await alice.join("#r")
        assert info.users == ["alice", "bob"]
        assert await alice.drain() == []
        # bob's first connection joins #r too: he already is in it, so nobody is told.
        await bob.join("#r")
        assert of_type(await alice.drain(), Joined) == []
        # One of the two parts: it gets its confirmation, alice hears nothing.
        await bob.send(Part(room="#r"))
        left = await bob.answer(Left)
        assert isinstance(left, Left)
        assert (left.room, left.name, left.reason) == ("#r", "bob", LeaveReason.PART)
        assert of_type(await alice.drain(), Left) == []
        assert (await who(alice, "#r")).users == ["alice", "bob"]
        # The last one goes: now bob has left #r.
        bob2.abort()
        left = await alice.answer(Left)
        assert isinstance(left, Left)
        assert (left.room, left.name, left.reason) == ("#r", "bob", LeaveReason.DROPPED)
        # ... but not the lobby, where his first connection still is.
        assert (await who(alice, "#lobby")).users == ["alice", "bob"]
        assert of_type(await alice.drain(), Left) == []
        await alice.close()
        await bob.close()


# -- limits -----------------------------------------------------------------------------------


async def test_too_many_rooms_for_one_user() -> None:
    async with serving(max_rooms_per_user=3) as server:
        alice = await Chat.hello(server, "alice")  # the lobby is one
        await alice.join("#a")
        await alice.join("#b")
        error = await alice.refused(Join(room="#c"))
        assert (error.code, error.fatal, error.room) == (ErrorCode.TOO_MANY_ROOMS, False, "#c")
        # Joining one it is in is no new room; parting one makes room for another.
        await alice.join("#a")
        await alice.send(Part(room="#a"))
        await alice.answer(Left)
        info, _ = await alice.join("#c")
        assert info.room == "#c"
        assert [s.room for s in await rooms_of(alice)] == ["#b", "#c", "#lobby"]  # #a is gone
        await alice.close()


async def test_too_many_rooms_on_the_server() -> None:
    async with serving(max_rooms=4) as server:
        alice = await Chat.hello(server, "alice")
        bob = await Chat.hello(server, "bob")
        created = 0
        while True:
            reply = await alice.reply_to(Join(room=f"#new{created}"), RoomInfo, Error)
            if isinstance(reply, Error):
                assert reply.code == ErrorCode.TOO_MANY_ROOMS
                break
            await alice.answer(History)
            created += 1
            assert created < 10, "max_rooms is not enforced"
        # The lobby always exists and counts: the server now has max_rooms rooms.
        assert len(await rooms_of(alice)) == 4
        assert created == 3
        # An existing room may still be joined; a new one may not, by anyone.
        info, _ = await bob.join("#new0")
        assert info.users == ["alice", "bob"]
        assert (await bob.refused(Join(room="#other"))).code == ErrorCode.TOO_MANY_ROOMS
        # A room whose last member leaves is forgotten, which makes room for a new one.
        await alice.send(Part(room="#new1"))
        await alice.answer(Left)
        info, _ = await bob.join("#other")
        assert info.users == ["bob"]
        await alice.close()
        await bob.close()


# -- membership -------------------------------------------------------------------------------


async def test_requests_about_a_room_not_joined_are_not_member() -> None:
    async with serving() as server:
        alice = await Chat.hello(server, "alice")
        carol = await Chat.hello(server, "carol")
        await alice.join("#rust")
        await alice.say("secret", room="#rust")
        await alice.drain()
        await carol.drain()
        requests: list[Say | Who | SetTopic | Part | GetHistory] = [
            Say(text="let me in", room="#rust", client_id="c1"),
            Say(text="nobody here", room="#nowhere", client_id="c2"),
            Who(room="#rust"),
            SetTopic(room="#rust", topic="hijacked"),
            Part(room="#rust"),
            Part(room="#nowhere"),
            GetHistory(room="#rust"),
        ]
        for request in requests:
            error = await carol.refused(request)
            assert (error.code, error.fatal) == (ErrorCode.NOT_MEMBER, False), request
            cid = request.client_id if isinstance(request, Say) else None
            assert error.client_id == cid
            assert error.room == request.room  # which room it was about
        # Nothing of it reached alice; carol got nothing else.
        assert await quiet(alice) == []
        assert of_types(await carol.drain(), Message, History, Topic, Users, Left) == []
        await marker(carol, alice)
        await alice.close()
        await carol.close()


@pytest.mark.parametrize(
    "paging",
    [
        {},
        {"limit": 1},
        {"limit": 200},
        {"before": 2**53 - 1},
        {"before": 3, "limit": 1},
        {"after": 0},
        {"after": 1, "limit": 50},
    ],
    ids=lambda p: ",".join(f"{k}={v}" for k, v in p.items()) or "recent",
)
async def test_history_of_a_room_not_joined_leaks_nothing_whatever_the_paging(
    paging: dict[str, int],
) -> None:
    """G3: a room with members, a room whose members all left (its history stays on disk)
    and a room that never was all answer not_member, and no history frame."""
    async with serving() as server:
        alice = await Chat.hello(server, "alice")
        carol = await Chat.hello(server, "carol")
        await alice.join("#live")
        await alice.seed(5, room="#live")
        await alice.join("#gone")
        await alice.seed(5, room="#gone")
        await alice.send(Part(room="#gone"))
        await alice.answer(Left)
        await carol.drain()
        for room in ("#live", "#gone", "#never"):
            error = await carol.refused(GetHistory(room=room, **paging))
            assert (error.code, error.fatal) == (ErrorCode.NOT_MEMBER, False), room
        assert of_types(await carol.drain(), History, Message) == []
        await alice.close()
        await carol.close()


# -- request rules ----------------------------------------------------------------------------

INVALID_ROOMS = ["lobby", "#", "##a", "#-a", "#a b", "#" + "a" * 33, "#caf\u00e9", "@alice", ""]


@pytest.mark.parametrize("room", INVALID_ROOMS)
async def test_invalid_room_names_are_refused(room: str) -> None:
    async with serving() as server:
        alice = await Chat.hello(server, "alice")
        await alice.drain()
        requests: list[AnyMessage] = [
            Join(room=room),
            Part(room=room),
            Who(room=room),
            SetTopic(room=room, topic="t"),
            Say(text="x", room=room, client_id="bad-room"),
        ]
        if room != "@alice":  # "@alice" names a conversation: fine for history
            requests.append(GetHistory(room=room))
        for request in requests:
            error = await alice.refused(request)
            assert (error.code, error.fatal) == (ErrorCode.INVALID_ROOM, False), request
            if isinstance(request, Say):
                assert error.client_id == "bad-room"
        hello = await Chat.open(server)
        await hello.send(Hello(name="bob", rooms={room: 0}))
        refusal = await hello.recv()
        assert isinstance(refusal, Error)
        assert refusal.code == ErrorCode.INVALID_ROOM
        # Still serving both: alice is in the lobby only, and the lobby has nothing new.
        assert [s.room for s in await rooms_of(alice)] == ["#lobby"]
        await alice.say("still here")
        await alice.close()
        await hello.close()


async def test_say_to_a_room_and_a_user_at_once_is_a_bad_request() -> None:
    async with serving() as server:
        alice = await Chat.hello(server, "alice")
        bob = await Chat.hello(server, "bob")
        await bob.drain()
        error = await alice.refused(Say(text="both", room="#lobby", to="bob", client_id="b1"))
        assert (error.code, error.client_id, error.fatal) == (ErrorCode.BAD_REQUEST, "b1", False)
        await alice.send_raw(encode(GetHistory(room="#lobby", before=5, after=1)))
        refusal = await alice.answer(Error)
        assert isinstance(refusal, Error)
        assert refusal.code == ErrorCode.BAD_REQUEST
        await marker(alice, bob)  # the refused say went nowhere
        await alice.close()
        await bob.close()


# -- room lifetime ----------------------------------------------------------------------------


async def test_a_room_without_members_is_forgotten_but_its_history_is_kept() -> None:
    async with serving() as server:
        alice = await Chat.hello(server, "alice")
        bob = await Chat.hello(server, "bob")
        await alice.join("#tmp")
        await bob.join("#tmp")
        await alice.send(SetTopic(room="#tmp", topic="short-lived"))
        await alice.answer(Topic)
        said = await alice.say("remember me", room="#tmp")
        assert [s.room for s in await rooms_of(alice)] == ["#lobby", "#tmp"]
        await alice.send(Part(room="#tmp"))
        await alice.answer(Left)
        assert [s.room for s in await rooms_of(alice)] == ["#lobby", "#tmp"]  # bob is still in
        bob.abort()  # the last member goes by dropping, not parting
        await alice.answer(Left)
        assert await rooms_of(alice) == [RoomSummary(room="#lobby", users=1)]
        info, history = await alice.join("#tmp")
        assert info == RoomInfo(room="#tmp", users=["alice"])  # the topic went with the room
        assert [(m.id, m.text) for m in history.messages] == [(said.id, "remember me")]
        await alice.close()


async def test_the_lobby_is_listed_even_when_nobody_is_in_it() -> None:
    async with serving() as server:
        alice = await Chat.hello(server, "alice")
        await alice.join("#b")
        await alice.join("#a")
        await alice.send(Part(room="#lobby"))
        left = await alice.answer(Left)
        assert isinstance(left, Left)
        assert (left.room, left.reason) == ("#lobby", LeaveReason.PART)
        assert await rooms_of(alice) == [
            RoomSummary(room="#a", users=1),
            RoomSummary(room="#b", users=1),
            RoomSummary(room="#lobby", users=0),
        ]
        await alice.close()


# -- plain-text users -------------------------------------------------------------------------


async def test_a_plain_text_user_is_in_the_lobby_and_only_there() -> None:
    async with serving(plain_history_lines=0) as server:
        alice = await Chat.hello(server, "alice")
        await alice.join("#rust")
        await alice.drain()
        ryuka = await PlainClient.connect(server, "Ryuka")
        joined = await alice.answer(Joined)
        assert isinstance(joined, Joined)
        assert (joined.room, joined.name) == ("#lobby", "Ryuka")
        assert (await who(alice, "#lobby")).users == ["alice", "Ryuka"]
        await alice.say("only rust", room="#rust")
        await alice.say("hello lobby")
        assert await ryuka.recv_line() == "alice: hello lobby"  # not the #rust line first
        await ryuka.send_line("hi alice")
        message = await alice.answer(Message)
        assert isinstance(message, Message)
        assert (message.sender, message.text) == ("Ryuka", "hi alice")
        assert lobby(message)
        await ryuka.close()
        await alice.close()


async def test_a_plain_text_user_gets_the_lobby_history_after_the_welcome() -> None:
    async with serving(plain_history_lines=3) as server:
        alice = await Chat.hello(server, "alice")
        await alice.join("#rust")
        await alice.say("one")
        await alice.say("elsewhere", room="#rust")
        await alice.say("two")
        await alice.say("waves", action=True)
        await alice.say("three")
        ryuka = await PlainClient.connect(server)
        await ryuka.send_line("Ryuka")
        assert "Welcome" in await ryuka.recv_line()
        assert [await ryuka.recv_line() for _ in range(3)] == [
            "alice: two",
            "* alice waves",
            "alice: three",
        ]
        await alice.say("live")
        assert await ryuka.recv_line() == "alice: live"
        await ryuka.close()
        await alice.close()


async def test_the_room_list_comes_in_pages_that_cover_every_room_once() -> None:
    async with serving(rooms_page=10, max_rooms_per_user=30) as server:
        maker = await Chat.hello(server, "maker")
        names = [f"#R{index:02}" for index in range(25)]
        for name in names:
            await maker.join(name)
        reader = await Chat.hello(server, "reader")
        pages: list[RoomList] = []
        after: str | None = None
        while True:
            page = await reader.reply_to(ListRooms(after=after), RoomList)
            assert isinstance(page, RoomList)
            pages.append(page)
            if not page.more:
                break
            after = page.rooms[-1].room.lower()  # any letter case finds the place
        assert [len(page.rooms) for page in pages] == [10, 10, 6]  # 25 rooms and #lobby
        listed = [summary.room for page in pages for summary in page.rooms]
        assert listed == sorted([*names, "#lobby"], key=str.lower)
        # A smaller limit is kept; a larger one gets the server's page.
        for limit, length in ((3, 3), (500, 10)):
            page = await reader.reply_to(ListRooms(limit=limit), RoomList)
            assert isinstance(page, RoomList)
            assert len(page.rooms) == length
        last = await reader.reply_to(ListRooms(after="#zzz"), RoomList)
        assert last == RoomList(rooms=[], more=False)
