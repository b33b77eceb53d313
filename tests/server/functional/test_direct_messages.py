"""Direct messages over real sockets: delivery to every connection of both parties and nobody
else, no_such_user, DM history (``@peer``, ``@``) and its privacy, sessions (spec 4, 7, 13).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.net import PlainClient, Target
from tests.support.rooms import Chat, of_type, quiet, serving
from wirechat_common import Ack, Bye, Error, ErrorCode, History, Message, Say

pytestmark = pytest.mark.timeout(30)


def lines(history: History) -> list[tuple[str, str | None, str]]:
    """A DM page as (sender, to, text); DMs carry no room."""
    assert all(message.room is None for message in history.messages), history
    return [(m.sender, m.to, m.text) for m in history.messages]


async def lobby_marker(sender: Chat, *witnesses: Chat) -> None:
    """``sender`` says a line in the lobby; it must be the next message of every witness."""
    ack = await sender.say("marker")
    for witness in witnesses:
        seen = await witness.answer(Message)
        assert isinstance(seen, Message)
        assert (seen.id, seen.text) == (ack.id, "marker"), f"{witness.name} got {seen} first"


async def test_a_dm_reaches_every_connection_of_both_parties_and_nobody_else() -> None:
    async with serving() as server:
        alice = await Chat.hello(server, "alice")
        alice2 = await Chat.hello(server, "alice", session=alice.session)
        bob = await Chat.hello(server, "bob")
        bob2 = await Chat.hello(server, "bob", session=bob.session)
        carol = await Chat.hello(server, "carol")
        everyone = (alice, alice2, bob, bob2, carol)
        for client in everyone:
            await client.drain()

        ack = await alice.say("psst", to="bob", client_id="d1")
        expected = Message(id=ack.id, ts=ack.ts, sender="alice", text="psst", to="bob")
        for client in (bob, bob2, alice2):
            assert await client.answer(Message) == expected
        # Nobody got it twice, carol not at all, and never the sending connection.
        await lobby_marker(alice, bob, bob2, alice2, carol)
        for client in everyone:
            assert of_type(await client.drain(), Message) == []
        for client in everyone:
            await client.close()


async def test_dm_recipient_is_matched_case_insensitively_and_shown_as_registered() -> None:
    async with serving() as server:
        alice = await Chat.hello(server, "alice")
        bob = await Chat.hello(server, "Bob")
        ack = await alice.say("hi", to="BOB")
        message = await bob.answer(Message)
        assert message == Message(id=ack.id, ts=ack.ts, sender="alice", text="hi", to="Bob")
        await alice.close()
        await bob.close()


async def test_a_dm_needs_no_shared_room() -> None:
    async with serving() as server:
        hermit = await Chat.hello(server, "hermit", rooms={})
        loner = await Chat.hello(server, "loner", rooms={"#elsewhere": 0})
        await hermit.say("anyone?", to="loner")
        message = await loner.answer(Message)
        assert isinstance(message, Message)
        assert (message.sender, message.to, message.text) == ("hermit", "loner", "anyone?")
        await loner.say("me", to="hermit")
        reply = await hermit.answer(Message)
        assert isinstance(reply, Message)
        assert (reply.sender, reply.to, reply.text) == ("loner", "hermit", "me")
        await hermit.close()
        await loner.close()


async def test_a_dm_to_someone_not_connected_is_no_such_user() -> None:
    async with serving() as server:
        alice = await Chat.hello(server, "alice")
        bob = await Chat.hello(server, "bob")
        error = await alice.refused(Say(text="hello?", to="nobody", client_id="n1"))
        assert (error.code, error.client_id, error.fatal) == (ErrorCode.NO_SUCH_USER, "n1", False)
        await bob.send(Bye())
        await bob.expect_closed()
        await alice.drain()
        error = await alice.refused(Say(text="come back", to="bob", client_id="n2"))
        assert (error.code, error.client_id) == (ErrorCode.NO_SUCH_USER, "n2")
        # Nothing was stored for either.
        assert (await alice.page("@")).messages == []
        await alice.close()


async def test_a_dm_to_oneself_is_allowed_and_reaches_the_other_connections_once() -> None:
    async with serving() as server:
        alice = await Chat.hello(server, "alice")
        alice2 = await Chat.hello(server, "alice", session=alice.session)
        await alice2.drain()
        ack = await alice.say("note to self", to="alice")
        message = await alice2.answer(Message)
        assert message == Message(
            id=ack.id, ts=ack.ts, sender="alice", text="note to self", to="alice"
        )
        assert of_type(await alice2.drain(), Message) == []
        assert [m.id for m in (await alice.page("@alice")).messages] == [ack.id]
        assert [m.id for m in (await alice.page("@")).messages] == [ack.id]
        await alice.close()
        await alice2.close()


async def test_dm_history_for_both_parties_and_for_nobody_else() -> None:
    async with serving() as server:
        alice = await Chat.hello(server, "alice")
        bob = await Chat.hello(server, "bob")
        carol = await Chat.hello(server, "carol")
        dave = await Chat.hello(server, "dave")
        await alice.say("a to b", to="bob")
        await bob.say("b to a", to="alice")
        await alice.say("a to c", to="carol")
        await carol.say("c to b", to="bob")
        await alice.say("a to b again", to="bob")
        ab = [
            ("alice", "bob", "a to b"),
            ("bob", "alice", "b to a"),
            ("alice", "bob", "a to b again"),
        ]
        ac = [("alice", "carol", "a to c")]
        cb = [("carol", "bob", "c to b")]

        assert lines(await alice.page("@bob")) == ab
        assert lines(await bob.page("@alice")) == ab
        assert lines(await alice.page("@BOB")) == ab  # the room is echoed as asked
        assert lines(await alice.page("@")) == [ab[0], ab[1], ac[0], ab[2]]
        assert lines(await bob.page("@")) == [ab[0], ab[1], cb[0], ab[2]]
        # A third party reads only its own DMs with either.
        assert lines(await carol.page("@alice")) == ac
        assert lines(await carol.page("@bob")) == cb
        assert lines(await carol.page("@")) == [ac[0], cb[0]]
        # Someone who never talked to them, or a peer that does not exist: empty pages.
        for room in ("@alice", "@bob", "@", "@nobody"):
            page = await dave.page(room)
            assert (page.messages, page.more) == ([], False), room
        assert (await alice.page("@dave")).messages == []
        # DM pages page like rooms.
        newest = await alice.page("@bob", limit=1)
        assert (lines(newest), newest.more) == ([ab[2]], True)
        older = await alice.page("@bob", before=newest.messages[0].id, limit=5)
        assert (lines(older), older.more) == (ab[:2], False)
        for client in (alice, bob, carol, dave):
            await client.close()


async def test_a_reconnect_with_the_session_reads_its_dms_again() -> None:
    async with serving() as server:
        alice = await Chat.hello(server, "alice")
        bob = await Chat.hello(server, "bob")
        sent = await alice.say("before the drop", to="bob")
        await bob.answer(Message)
        session = bob.session
        bob.abort()
        await alice.drain()
        # Back with the session, after his last connection went: the DMs are still his.
        bob = await Chat.hello(server, "bob", session=session)
        assert [m.id for m in (await bob.page("@alice")).messages] == [sent.id]
        assert [m.id for m in (await bob.page("@")).messages] == [sent.id]
        await alice.close()
        await bob.close()


async def test_a_fresh_holder_of_a_name_cannot_read_the_old_holders_dms() -> None:
    async with serving() as server:
        alice = await Chat.hello(server, "alice")
        bob = await Chat.hello(server, "bob")
        await alice.say("for the first bob", to="bob")
        await bob.say("reply from the first bob", to="alice")
        old_session = bob.session
        await bob.send(Bye())
        await bob.expect_closed()

        # Someone else claims "bob" without the session: a new session, none of the old DMs.
        thief = await Chat.hello(server, "bob", dm_after=0)
        assert thief.session != old_session
        frames = await thief.drain()
        dm_pages = [f for f in of_type(frames, History) if f.room == "@"]
        assert dm_pages == [History(room="@", messages=[])], frames
        for room in ("@alice", "@", "@bob"):
            page = await thief.page(room)
            assert (page.messages, page.more) == ([], False), room
        for paging in ({"after": 0}, {"before": 2**53 - 1}, {"limit": 200}):
            assert (await thief.page("@alice", **paging)).messages == [], paging
        # alice still has both; the new bob sees only what is said to him from now on.
        assert len((await alice.page("@bob")).messages) == 2
        new = await alice.say("for the new bob", to="bob")
        assert [m.id for m in (await thief.page("@alice")).messages] == [new.id]
        # The old token does not take the name from its new holder.
        ghost = await Chat.open(server)
        refusal = await ghost.register("bob", session=old_session)
        assert isinstance(refusal, Error)
        assert refusal.code == ErrorCode.NAME_TAKEN
        await quiet(thief, Message)
        for client in (alice, thief, ghost):
            await client.close()


async def test_a_session_token_only_works_for_its_own_name() -> None:
    async with serving() as server:
        alice = await Chat.hello(server, "alice")
        bob = await Chat.hello(server, "bob")
        for token in (alice.session, "not-a-session", bob.session[::-1]):
            intruder = await Chat.open(server)
            refusal = await intruder.register("bob", session=token)
            assert isinstance(refusal, Error), token
            assert refusal.code == ErrorCode.NAME_TAKEN
            await intruder.close()
        await alice.close()
        await bob.close()


async def test_plain_text_users_send_and_receive_dms() -> None:
    async with serving(plain_history_lines=0) as server:
        alice = await Chat.hello(server, "alice")
        ryuka = await PlainClient.connect(server, "Ryuka")
        to_plain = await alice.say("psst", to="ryuka")
        assert await ryuka.recv_line() == "*alice* psst"
        await ryuka.send_line("/msg alice hi there")
        message = await alice.answer(Message)
        assert isinstance(message, Message)
        assert (message.sender, message.to, message.text) == ("Ryuka", "alice", "hi there")
        assert lines(await alice.page("@Ryuka")) == [
            ("alice", "Ryuka", "psst"),
            ("Ryuka", "alice", "hi there"),
        ]
        assert (await alice.page("@ryuka")).messages[0].id == to_plain.id
        await ryuka.close()
        await alice.close()


async def test_a_session_and_its_direct_messages_survive_a_restart(tmp_path: Path) -> None:
    """Sessions are saved (the token as a hash): after a restart on the same data dir, the
    client's token still proves its name, and its direct messages replay and page as before.
    A newcomer without the token still cannot read them."""
    async with serving(tmp_path) as server:
        alice = await Chat.hello(server, "alice")
        bob = await Chat.hello(server, "bob")
        seen = await alice.say("before the restart", to="bob")
        await bob.answer(Message)
        session = bob.session
        await alice.close()
        missed = await alice_again_says(server, "sent while bob was away", session=None)
        bob.abort()
    async with serving(tmp_path) as server:
        # A newcomer takes the free name "carol"; bob comes back with his old token.
        bob = await Chat.hello(server, "bob", session=session, dm_after=seen.id)
        assert bob.session == session  # the same session, not a new one
        frames = await bob.drain()
        (replay,) = [f for f in of_type(frames, History) if f.room == "@"]
        assert [m.id for m in replay.messages] == [missed.id]
        page = await bob.page("@alice")
        assert [m.id for m in page.messages] == [seen.id, missed.id]
        await bob.close()
        # Without the token the name starts a new session, which reads nothing older.
        impostor = await Chat.hello(server, "bob")
        assert impostor.session != session
        assert (await impostor.page("@alice")).messages == []
        await impostor.close()


async def alice_again_says(server: Target, text: str, *, session: str | None) -> Ack:
    """alice (re)connects, sends ``text`` to bob and leaves; the ack."""
    alice = await Chat.hello(server, "alice", session=session)
    ack = await alice.say(text, to="bob")
    await alice.close()
    return ack
