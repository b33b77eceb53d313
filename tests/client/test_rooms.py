"""Rooms, direct messages, topics and history in the app, driven with Pilot against a real
server on an ephemeral port."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator

import pytest

from tests.support.app import (
    EVERY_JOIN,
    GatedConnection,
    ScriptedConnection,
    app_for,
    chat_of,
    current_name,
    cut,
    gated_connection,
    in_chat,
    listed,
    log_shows,
    log_text,
    submit,
    topic_text,
    until,
    welcome_script,
)
from tests.support.net import NativeClient, running_server
from wirechat_client.address import Address
from wirechat_client.events import HistoryPage
from wirechat_client.net import ChatConnection
from wirechat_client.resume import PageKind
from wirechat_common import (
    Ack,
    Error,
    ErrorCode,
    GetHistory,
    History,
    Join,
    LeaveReason,
    Left,
    Message,
    RoomInfo,
    Say,
    SetTopic,
    Topic,
)
from wirechat_server.server import ChatServer


async def joined(client: NativeClient, room: str) -> None:
    await client.send(Join(room=room))
    await client.expect(RoomInfo)
    await client.expect(History)


async def said(
    client: NativeClient, text: str, room: str | None = None, to: str | None = None
) -> int:
    """Say ``text`` and wait until it is stored (acknowledged); return its id."""
    await client.send(Say(text=text, client_id=f"t-{text.replace(' ', '_')}", room=room, to=to))
    return (await client.expect(Ack)).id


@pytest.fixture
async def bob(server: ChatServer) -> AsyncIterator[NativeClient]:
    client = await NativeClient.connect(server, "bob")
    yield client
    await client.close()


async def test_join_and_part_update_the_room_list(server: ChatServer, bob: NativeClient) -> None:
    app = app_for(server, "alice", config=EVERY_JOIN)
    async with app.run_test(size=(100, 30)) as pilot:
        chat = await in_chat(pilot, app)
        await until(pilot, lambda: listed(app) == ["#lobby"])
        await submit(pilot, app, "/join #dev")
        await until(pilot, lambda: listed(app) == ["#dev", "#lobby"])
        assert current_name(app) == "#dev"
        assert "#dev" in topic_text(app)
        assert list(chat.user_list.names) == ["alice"]
        await log_shows(pilot, app, "You joined #dev. 1 here: alice.")
        await joined(bob, "#Dev")  # rooms are the same whatever their case
        await until(pilot, lambda: list(chat.user_list.names) == ["alice", "bob"])
        await log_shows(pilot, app, "bob joined")
        await submit(pilot, app, "/part")
        await until(pilot, lambda: listed(app) == ["#lobby"])
        assert current_name(app) == "#lobby"
        await log_shows(pilot, app, "You left #dev.")
        left = await bob.expect(Left)
        assert (left.name, left.reason, left.room) == ("alice", LeaveReason.PART, "#dev")
        # Joining a room one is in just shows it; /join takes a name without its #.
        await submit(pilot, app, "/join lobby")
        assert current_name(app) == "#lobby"
        await submit(pilot, app, "/join #no way")
        await log_shows(pilot, app, "usage: /join #ROOM")


async def test_messages_go_to_the_room_shown_and_come_from_theirs(
    server: ChatServer, bob: NativeClient
) -> None:
    await joined(bob, "#dev")
    app = app_for(server, "alice")
    async with app.run_test(size=(100, 30)) as pilot:
        chat = await in_chat(pilot, app)
        await submit(pilot, app, "/join #dev")
        await until(pilot, lambda: current_name(app) == "#dev")
        await said(bob, "lobby line")
        await said(bob, "dev line", room="#dev")
        await log_shows(pilot, app, "bob │ dev line")
        assert "lobby line" not in log_text(app)
        await submit(pilot, app, "to dev")
        heard = await bob.expect(Message)
        assert (heard.text, heard.room) == ("to dev", "#dev")
        await pilot.press("alt+down")  # the next conversation: #lobby
        assert current_name(app) == "#lobby"
        await log_shows(pilot, app, "bob │ lobby line")
        assert "dev line" not in log_text(app)
        await submit(pilot, app, "to lobby")
        heard = await bob.expect(Message)
        assert (heard.text, heard.room) == ("to lobby", "#lobby")
        await pilot.press("alt+up")
        assert current_name(app) == "#dev"
        # Clicking a conversation in the list shows it too.
        await pilot.click(chat.room_list, offset=(3, 2))
        await until(pilot, lambda: current_name(app) == "#lobby")
        assert chat.chat_input.has_focus


async def test_a_background_room_counts_unread_lines_and_marks_mentions(
    server: ChatServer, bob: NativeClient
) -> None:
    app = app_for(server, "alice")
    async with app.run_test(size=(100, 30)) as pilot:
        await in_chat(pilot, app)
        await submit(pilot, app, "/join #dev")
        await until(pilot, lambda: current_name(app) == "#dev")
        await said(bob, "anyone around?")
        await until(pilot, lambda: listed(app) == ["#dev", "#lobby 1"])
        await said(bob, "alice: the build is red")
        await until(pilot, lambda: listed(app) == ["#dev", "!#lobby 2"])
        assert "#dev" in topic_text(app)  # still on #dev
        await pilot.press("ctrl+n")
        assert current_name(app) == "#lobby"
        await until(pilot, lambda: listed(app) == ["#dev", "#lobby"])
        mention = chat_of(app).chat_log.model.entries[-1]
        assert (mention.text, mention.mention) == ("alice: the build is red", True)


async def test_direct_messages_open_a_conversation_on_both_sides(server: ChatServer) -> None:
    alice, bob = app_for(server, "alice"), app_for(server, "bob")
    async with alice.run_test(size=(100, 30)) as a_pilot, bob.run_test(size=(100, 30)) as b_pilot:
        await in_chat(a_pilot, alice)
        await in_chat(b_pilot, bob)
        await submit(a_pilot, alice, "/msg bob psst, a secret")
        await until(a_pilot, lambda: listed(alice) == ["#lobby", "bob"])
        assert current_name(alice) == "bob"
        assert list(chat_of(alice).user_list.names) == ["alice", "bob"]
        await log_shows(a_pilot, alice, "alice │ psst, a secret")
        # bob hears it in a conversation named after alice, flagged, not in the lobby.
        await until(b_pilot, lambda: listed(bob) == ["#lobby", "!alice 1"])
        assert "secret" not in log_text(bob)
        await b_pilot.press("alt+down")
        assert current_name(bob) == "alice"
        await log_shows(b_pilot, bob, "alice │ psst, a secret")
        await submit(b_pilot, bob, "got it")
        await log_shows(a_pilot, alice, "bob │ got it")
        # /msg without text opens the conversation; /part closes it.
        await submit(b_pilot, bob, "/part")
        await until(b_pilot, lambda: listed(bob) == ["#lobby"])
        await submit(b_pilot, bob, "/msg Alice")
        await until(b_pilot, lambda: current_name(bob) == "Alice")
        # A direct message to someone not connected is refused, and said so where one was.
        await submit(a_pilot, alice, "/msg carol hello?")
        await log_shows(a_pilot, alice, "Not sent: carol is not connected (hello?).")


async def test_a_topic_set_by_one_shows_for_the_others(server: ChatServer) -> None:
    alice, bob = app_for(server, "alice"), app_for(server, "bob")
    async with alice.run_test(size=(100, 30)) as a_pilot, bob.run_test(size=(100, 30)) as b_pilot:
        await in_chat(a_pilot, alice)
        await in_chat(b_pilot, bob)
        await submit(a_pilot, alice, "/topic release day")
        await until(b_pilot, lambda: "#lobby · release day" in topic_text(bob))
        await log_shows(b_pilot, bob, "alice set the topic: release day")
        await until(a_pilot, lambda: "release day" in topic_text(alice))
        await submit(b_pilot, bob, "/topic")
        await log_shows(b_pilot, bob, "Topic of #lobby: release day")
        # Someone joining later sees it at once.
        carol = await NativeClient.connect(server, "carol")
        await carol.send(Join(room="#lobby"))
        assert (await carol.expect(RoomInfo)).topic == "release day"
        await carol.close()


async def test_rooms_lists_the_servers_rooms(server: ChatServer, bob: NativeClient) -> None:
    await joined(bob, "#dev")
    await bob.send(SetTopic(room="#dev", topic="shipping"))
    await bob.expect(Topic)
    app = app_for(server, "alice")
    async with app.run_test(size=(100, 30)) as pilot:
        await in_chat(pilot, app)
        await submit(pilot, app, "/rooms")
        await log_shows(pilot, app, "#dev · 1 user: shipping")
        assert "#lobby · 2 users (joined)" in log_text(app)


async def test_a_long_room_list_comes_a_page_at_a_time() -> None:
    async with running_server(rooms_page=2) as paged:
        carol = await NativeClient.connect(paged, "carol")
        for room in ("#a", "#b", "#c"):
            await joined(carol, room)
        app = app_for(paged, "alice")
        async with app.run_test(size=(100, 30)) as pilot:
            await in_chat(pilot, app)
            await submit(pilot, app, "/rooms")
            await log_shows(pilot, app, "… more rooms after these: /rooms #b")
            assert "#c" not in log_text(app)
            await submit(pilot, app, "/rooms #b")
            await log_shows(pilot, app, "#lobby · 2 users (joined)")
            assert "#c · 1 user" in log_text(app)
        await carol.close()


async def test_scrolling_to_the_top_loads_older_history() -> None:
    async with running_server(history_on_join=5, max_history=10, msg_rate=0) as server:
        bob = await NativeClient.connect(server, "bob")
        for n in range(30):
            await said(bob, f"old {n}")
        app = app_for(server, "alice")
        async with app.run_test(size=(100, 30)) as pilot:
            chat = await in_chat(pilot, app)
            await log_shows(pilot, app, "old 29")
            assert "old 24" not in log_text(app)  # the join brought the last 5
            pages = 0
            while "beginning of history" not in log_text(app):
                await pilot.press("pageup")
                pages += 1
                await until(pilot, lambda: not chat.current.loading)
                assert pages <= 10
            rows = [row.rstrip() for row in chat.chat_log.lines_text()]
            shown = [row.split("│ ")[-1] for row in rows if "bob │ old" in row]
            assert shown == [f"old {n}" for n in range(30)]  # each once, in order
            assert "beginning of history" in rows[0]
            pages_before = pages
            await pilot.press("pageup")  # nothing older: no request, no new line
            assert pages_before == pages
            assert log_text(app).count("beginning of history") == 1
        await bob.close()


async def test_the_loading_line_shows_until_the_page_comes() -> None:
    peer = ScriptedConnection([welcome_script("alice", ["alice", "bob"])])
    app = app_for(Address("chat.example", 5001), "alice", connect=peer.factory)
    async with app.run_test(size=(100, 30)) as pilot:
        chat = await in_chat(pilot, app)
        chat.max_history = 100
        old = [Message(id=n, ts=0, sender="bob", text=f"m{n}", room="#lobby") for n in range(1, 4)]
        peer.push([HistoryPage("#lobby", old[2:], True, PageKind.JOIN)])
        await log_shows(pilot, app, "m3")
        await pilot.press("pageup")
        await log_shows(pilot, app, "— loading older messages… —")
        (request,) = [r for r in peer.requests if isinstance(r, GetHistory)]
        assert (request.room, request.before) == ("#lobby", 3)
        peer.push([HistoryPage("#lobby", old[:2], False, PageKind.OLDER)])
        await log_shows(pilot, app, "beginning of history")
        text = log_text(app)
        assert "loading" not in text
        assert text.index("m1") < text.index("m2") < text.index("m3")


async def test_a_page_error_stops_loading_only_in_the_room_it_names() -> None:
    peer = ScriptedConnection([welcome_script("alice", ["alice", "bob"])])
    app = app_for(Address("chat.example", 5001), "alice", connect=peer.factory)
    async with app.run_test(size=(100, 30)) as pilot:
        chat = await in_chat(pilot, app)
        chat.max_history = 100
        old = [Message(id=n, ts=0, sender="bob", text=f"m{n}", room="#lobby") for n in range(2, 4)]
        peer.push([HistoryPage("#lobby", old, True, PageKind.JOIN)])
        await log_shows(pilot, app, "m3")
        await pilot.press("pageup")
        await log_shows(pilot, app, "— loading older messages… —")
        peer.push([Error(code=ErrorCode.STORAGE_UNAVAILABLE, detail="disk trouble", room="#lobby")])
        await log_shows(pilot, app, "server: disk trouble (storage_unavailable)")
        assert not chat.current.loading
        assert "loading older" not in log_text(app)


async def test_a_line_the_server_cannot_store_is_refused_with_the_reason() -> None:
    failing = threading.Event()

    def hook(batch: int) -> None:
        if failing.is_set():
            raise OSError("disk full")

    async with running_server(store_hook=hook) as server:
        app = app_for(server, "alice")
        async with app.run_test(size=(100, 30)) as pilot:
            chat = await in_chat(pilot, app)
            failing.set()
            await submit(pilot, app, "into the void")
            await log_shows(pilot, app, "into the void  (refused:")
            refused = chat.chat_log.model.entries[-1]
            assert refused.failed
            assert refused.failure
            failing.clear()
            await submit(pilot, app, "works again")
            await until(pilot, lambda: chat.chat_log.model.entries[-1].id is not None)
            assert chat.chat_log.model.entries[-1].text == "works again"
            said = [e.text for e in chat.chat_log.model.entries if e.nick]  # no date line
            assert said[-2:] == [
                "into the void",
                "works again",
            ]


async def test_a_join_past_the_room_limit_is_refused_where_it_was_asked() -> None:
    async with running_server(max_rooms_per_user=2) as server:
        app = app_for(server, "alice")
        async with app.run_test(size=(100, 30)) as pilot:
            await in_chat(pilot, app)
            await submit(pilot, app, "/join #a")  # #lobby and #a: the most allowed
            await until(pilot, lambda: listed(app) == ["#a", "#lobby"])
            await submit(pilot, app, "/join #b")
            await log_shows(pilot, app, "Could not join #b:")
            assert current_name(app) == "#a"  # said where it was asked, not elsewhere
            assert "(too_many_rooms)" in log_text(app)
            assert listed(app) == ["#a", "#lobby"]
            connection = app.connection
            assert isinstance(connection, ChatConnection)
            assert connection.resume.rooms == ["#lobby", "#a"]  # #b is not resumed
            assert not chat_of(app).feed.join_wanted


async def test_a_room_refused_on_resuming_is_no_longer_joined() -> None:
    # The server allows two rooms: while alice is away, #a empties and bob fills the second
    # place, so her resume cannot recreate #a.
    async with running_server(max_rooms=2) as server:
        app = app_for(server, "alice", connect=gated_connection)
        async with app.run_test(size=(100, 30)) as pilot:
            await in_chat(pilot, app)
            await submit(pilot, app, "/join #a")
            await until(pilot, lambda: listed(app) == ["#a", "#lobby"])
            connection = app.connection
            assert isinstance(connection, GatedConnection)
            connection.gate.clear()
            cut(app)
            bob = await NativeClient.connect(server, "bob")
            while True:  # until the server has noticed alice is gone (and #a with her)
                await bob.send(Join(room="#x"))
                answer = await bob.recv()
                while not isinstance(answer, RoomInfo | Error):
                    answer = await bob.recv()
                if isinstance(answer, RoomInfo):
                    break
                await pilot.pause(0.02)
            await bob.expect(History)
            connection.gate.set()
            await log_shows(pilot, app, "Not in this room:")
            assert current_name(app) == "#a"
            refusal = chat_of(app).chat_log.model.entries[-1].text
            assert refusal.startswith("Not in this room: this server has as many rooms")
            assert refusal.endswith("(too_many_rooms). /join #a to try again.")
            assert "not in this room: /join #a" in topic_text(app)
            assert connection.resume.rooms == ["#lobby"]  # the next resume will not ask
            assert listed(app) == ["#a", "#lobby"]  # still readable
            await submit(pilot, app, "anyone?")
            await log_shows(pilot, app, "Not sent: you are not in #a. /join #a first.")
            assert not len(connection.outbox)
            await bob.close()
