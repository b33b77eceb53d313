"""Durable history over real sockets: history on join, paging back and forth, the page limit,
a restart on the same data directory, the server's own sender/id/ts (G2), and idempotent
resends (E2, E3) (spec /tmp/spec/rooms.md 1, 6, 9, 13, 14).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.support.net import WAIT
from tests.support.rooms import (
    AckCutter,
    Chat,
    ids,
    of_type,
    serving,
    strictly_increasing,
    texts,
)
from wirechat_common import (
    Ack,
    ErrorCode,
    GetHistory,
    History,
    Message,
    RoomInfo,
    Say,
)
from wirechat_server.core import now_ms

pytestmark = pytest.mark.timeout(30)


async def test_joining_gets_the_last_history_on_join_messages() -> None:
    async with serving(history_on_join=5) as server:
        alice = await Chat.hello(server, "alice")
        await alice.join("#h")
        said = await alice.seed(8, room="#h")
        await alice.join("#k")
        exact = await alice.seed(5, room="#k")
        lobby = await alice.seed(3)

        bob = await Chat.hello(server, "bob")
        (_info, on_hello) = await bob.drain()
        assert isinstance(on_hello, History)
        assert (on_hello.room, ids(on_hello.messages), on_hello.more) == (
            "#lobby",
            ids(lobby),
            False,
        )
        _, history = await bob.join("#h")
        assert ids(history.messages) == ids(said[3:])
        assert texts(history.messages) == [f"m{n}" for n in range(3, 8)]
        assert history.more  # three older ones
        assert all(m.sender == "alice" and m.room == "#h" for m in history.messages)
        assert [m.ts for m in history.messages] == [a.ts for a in said[3:]]
        _, history = await bob.join("#k")
        assert (ids(history.messages), history.more) == (ids(exact), False)
        await alice.close()
        await bob.close()


async def test_paging_the_whole_room_back_and_forth_is_contiguous_and_ordered() -> None:
    async with serving(max_history=50, history_on_join=10) as server:
        alice = await Chat.hello(server, "alice")
        await alice.join("#p")
        await alice.join("#q")
        # 120 messages in #p with 40 of #q among them, so #p's ids have gaps.
        rooms = ["#q" if n % 4 == 3 else "#p" for n in range(160)]
        await alice.send(
            *(Say(text=f"{r}{n}", room=r, client_id=f"c{n}") for n, r in enumerate(rooms))
        )
        acks = await alice.collect(Ack, 160)
        assert [a.client_id for a in acks] == [f"c{n}" for n in range(160)]
        p_ids = [a.id for a, r in zip(acks, rooms, strict=True) if r == "#p"]
        assert len(p_ids) == 120
        assert strictly_increasing(p_ids)

        # Back from the newest, 25 at a time.
        pages = [await alice.page("#p", limit=25)]
        while pages[-1].more:
            pages.append(await alice.page("#p", before=pages[-1].messages[0].id, limit=25))
        assert [len(p.messages) for p in pages] == [25, 25, 25, 25, 20]
        assert [p.more for p in pages] == [True, True, True, True, False]
        back = [m.id for p in reversed(pages) for m in p.messages]
        assert back == p_ids  # no gap, no overlap, oldest first within each page
        # Forward from the start, 25 at a time.
        pages = [await alice.page("#p", after=0, limit=25)]
        while pages[-1].more:
            pages.append(await alice.page("#p", after=pages[-1].messages[-1].id, limit=25))
        assert [len(p.messages) for p in pages] == [25, 25, 25, 25, 20]
        assert [m.id for p in pages for m in p.messages] == p_ids
        assert all(m.room == "#p" for p in pages for m in p.messages)

        # The ends: a page that ends exactly at the last (or first) message says no more.
        last = await alice.page("#p", after=p_ids[-26], limit=25)
        assert (ids(last.messages), last.more) == (p_ids[-25:], False)
        first = await alice.page("#p", before=p_ids[25], limit=25)
        assert (ids(first.messages), first.more) == (p_ids[:25], False)
        for paging in ({"before": p_ids[0]}, {"after": p_ids[-1]}, {"before": 1}):
            page = await alice.page("#p", **paging)
            assert (page.messages, page.more) == ([], False), paging
        # Cursors need not be ids of the room: from one of #q's, the next of #p's.
        q_id = next(
            a.id for a, r in zip(acks, rooms, strict=True) if r == "#q" and a.id > p_ids[60]
        )
        page = await alice.page("#p", after=q_id, limit=1)
        assert ids(page.messages) == [min(i for i in p_ids if i > q_id)]
        # Without a limit: history_on_join of the newest, more to come.
        page = await alice.page("#p")
        assert (ids(page.messages), page.more) == (p_ids[-10:], True)
        # The largest allowed page.
        page = await alice.page("#p", before=p_ids[-1] + 1, limit=50)
        assert (ids(page.messages), page.more) == (p_ids[-50:], True)
        await alice.close()


async def test_a_page_larger_than_max_history_is_refused() -> None:
    async with serving(max_history=30, history_on_join=10) as server:
        alice = await Chat.hello(server, "alice")
        assert alice.welcome is not None
        assert alice.welcome.max_history == 30
        await alice.seed(3)
        assert len((await alice.page("#lobby", limit=30)).messages) == 3
        for request in (
            GetHistory(room="#lobby", limit=31),
            GetHistory(room="#lobby", before=10, limit=31),
            GetHistory(room="#lobby", after=0, limit=2**53 - 1),
            GetHistory(room="@", limit=31),
        ):
            error = await alice.refused(request)
            assert (error.code, error.fatal) == (ErrorCode.HISTORY_WINDOW_TOO_LARGE, False)
            assert error.room == request.room
        await alice.say("still fine")
        await alice.close()


async def test_history_survives_a_restart_on_the_same_data_dir(tmp_path: Path) -> None:
    async with serving(tmp_path) as server:
        alice = await Chat.hello(server, "alice")
        await alice.join("#keep")
        kept = await alice.seed(10, room="#keep")
        lobby = await alice.seed(3)
        before = await alice.everything("#keep", 200)
        await alice.close()
    async with serving(tmp_path) as server:
        bob = await Chat.hello(server, "bob")
        (_info, on_hello) = await bob.drain()
        assert isinstance(on_hello, History)
        assert ids(on_hello.messages) == ids(lobby)
        _, history = await bob.join("#keep")
        assert history.messages == before
        assert ids(history.messages) == ids(kept)
        # Ids go on from where they were, never reused.
        again = await bob.say("after the restart", room="#keep")
        assert again.id > max(ids(lobby))
        await bob.close()


async def test_the_server_sets_sender_id_ts_and_room_whatever_the_say_carries() -> None:
    """G2: fields a client adds to a say to pass as someone else are ignored."""
    async with serving() as server:
        alice = await Chat.hello(server, "alice")
        bob = await Chat.hello(server, "bob")
        carol = await Chat.hello(server, "carol", rooms={"#other": 0})
        await alice.join("#r")
        await bob.join("#r")
        first = await alice.say("first", room="#r")
        for client in (alice, bob, carol):
            await client.drain()
        started = now_ms()
        await alice.send_raw(
            b'{"type":"say","text":"spoof","room":"#r","client_id":"g2","sender":"bob",'
            b'"from":"bob","name":"bob","user":"carol","id":1,"ts":1,"duplicate":true,'
            b'"channel":"#other","conversation":"@bob:carol","sender_key":"bob"}\n'
        )
        ack = await alice.answer(Ack)
        assert isinstance(ack, Ack)
        assert (ack.client_id, ack.duplicate) == ("g2", False)
        assert ack.id > first.id
        assert started <= ack.ts <= now_ms()
        message = await bob.answer(Message)
        assert message == Message(id=ack.id, ts=ack.ts, sender="alice", text="spoof", room="#r")
        (stored,) = (await bob.page("#r", after=first.id)).messages
        assert stored == message
        assert (await carol.page("#other")).messages == []
        assert of_type(await carol.drain(), Message) == []
        for client in (alice, bob, carol):
            await client.close()


# -- idempotency --------------------------------------------------------------------------


async def test_a_resend_with_the_same_client_id_gets_the_original_ack_first_wins() -> None:
    """E3: same user, same client_id, after a reconnect with the session: the original ack,
    duplicate set, whatever the new text or room; nothing stored or relayed again."""
    async with serving() as server:
        alice = await Chat.hello(server, "alice")
        bob = await Chat.hello(server, "bob")
        await bob.join("#r")
        await bob.drain()
        original = await alice.say("first", client_id="x1")
        relayed = await bob.answer(Message)
        assert isinstance(relayed, Message)
        assert relayed.id == original.id

        # On the same connection.
        again = await alice.say("first", client_id="x1")
        assert again == Ack(id=original.id, ts=original.ts, client_id="x1", duplicate=True)
        # After a drop, reconnected with the session; other text, even another room.
        session = alice.session
        alice.abort()
        alice = await Chat.hello(server, "alice", session=session)
        await alice.join("#r")
        for resend in (
            Say(text="second", client_id="x1"),
            Say(text="third", room="#r", client_id="x1"),
        ):
            await alice.send(resend)
            ack = await alice.answer(Ack)
            assert ack == Ack(id=original.id, ts=original.ts, client_id="x1", duplicate=True)
        # Nothing was relayed again: bob's next message is a later one.
        marker = await alice.say("marker")
        seen = await bob.answer(Message)
        assert isinstance(seen, Message)
        assert (seen.id, seen.text) == (marker.id, "marker")
        assert texts((await bob.page("#lobby")).messages).count("first") == 1
        assert "second" not in texts((await bob.page("#lobby")).messages)
        assert (await bob.page("#r")).messages == []
        # Another user's client_id is its own.
        own = await bob.say("bob's x1", client_id="x1")
        assert (own.duplicate, own.id > marker.id) == (False, True)
        await alice.close()
        await bob.close()


async def test_a_resend_after_a_lost_ack_is_stored_and_relayed_once() -> None:
    """E2: the connection is cut after the server has stored say X and before its ack reaches
    the client; the client reconnects (session and rooms) and sends X again."""
    async with serving() as server, AckCutter(server, "x-lost") as proxy:
        bob = await Chat.hello(server, "bob")
        alice = await Chat.hello(proxy.address, "alice")
        await alice.drain()
        await bob.drain()
        last_seen = (await bob.say("before")).id
        before = await alice.answer(Message)
        assert isinstance(before, Message)
        assert before.id == last_seen
        session = alice.session

        await alice.send(Say(text="lost ack", client_id="x-lost"))
        async with asyncio.timeout(WAIT):
            await proxy.cut.wait()
        lost = proxy.swallowed
        assert lost is not None
        assert lost.client_id == "x-lost"
        gone = await alice.expect_closed()
        assert not [m for m in gone if isinstance(m, Ack)]

        # Back, straight to the server this time, asking for what came after the last seen.
        alice = await Chat.hello(server, "alice", session=session, rooms={"#lobby": last_seen})
        frames = await alice.drain()
        (info,) = of_type(frames, RoomInfo)
        assert info.room == "#lobby"
        (replay,) = of_type(frames, History)
        assert ids(replay.messages) == [lost.id]  # her own message, which she never saw acked
        await alice.send(Say(text="lost ack", client_id="x-lost"))
        ack = await alice.answer(Ack)
        assert ack == Ack(id=lost.id, ts=lost.ts, client_id="x-lost", duplicate=True)

        marker = await alice.say("marker")
        relayed = of_type(await bob.drain(), Message)
        assert [(m.id, m.text) for m in relayed] == [(lost.id, "lost ack"), (marker.id, "marker")]
        stored = await bob.everything("#lobby", 200)
        assert [m.id for m in stored if m.text == "lost ack"] == [lost.id]
        await alice.close()
        await bob.close()


async def test_without_storage_ids_still_increase_and_history_is_empty() -> None:
    async with serving(storage="none") as server:
        alice = await Chat.hello(server, "alice")
        bob = await Chat.hello(server, "bob")
        acks = await alice.seed(5)
        assert strictly_increasing(ids(acks))
        assert ids(await bob.collect(Message, 5)) == ids(acks)
        assert all(not page.messages for page in of_type(await bob.drain(), History))
        history = await bob.page("#lobby")
        assert (history.messages, history.more) == ([], False)
        carol = await Chat.hello(server, "carol", rooms={"#lobby": acks[0].id})
        assert all(not page.messages for page in of_type(await carol.drain(), History))
        for client in (alice, bob, carol):
            await client.close()


async def test_retention_per_room_keeps_the_newest_and_ids_go_on(tmp_path: Path) -> None:
    async with serving(tmp_path, retention_per_room=5, retention_interval=3600) as server:
        alice = await Chat.hello(server, "alice")
        await alice.join("#other")
        kept_other = await alice.seed(3, room="#other")
        acks = await alice.seed(12)
        assert await server.retention_pass() == 7
        page = await alice.page("#lobby", limit=50)
        assert (ids(page.messages), page.more) == (ids(acks[-5:]), False)
        assert ids((await alice.page("#other", limit=50)).messages) == ids(kept_other)
        # Ids are never reused: the next message still comes after the deleted ones.
        assert (await alice.say("after")).id > acks[-1].id
        assert await server.retention_pass() == 1
        await alice.close()
