"""Lossless reconnection in the app, against a real server: what was said while we were away
shows exactly once, in order, after a marker where the connection was lost; lines typed
offline (or in flight) go out once."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

from tests.support.app import (
    app_for,
    chat_of,
    connection_of,
    cut,
    gate_of,
    gated_connection,
    in_chat,
    listed,
    log_shows,
    log_text,
    submit,
    until,
)
from tests.support.net import NativeClient, running_server
from wirechat_client.app import WirechatApp
from wirechat_client.events import LinkState
from wirechat_common import Ack, Hello, Join, Message, RoomInfo, Say, Welcome

GAP = "— connection lost at 12:34, reconnected at 12:34 —"


def said_lines(app: WirechatApp, sender: str) -> list[str]:
    """The texts ``sender`` said in the log shown, top to bottom."""
    marker = f"{sender} │ "
    return [row.split(marker, 1)[1].rstrip() for row in log_text(app).split("\n") if marker in row]


def entry_texts(app: WirechatApp) -> list[str]:
    """The lines of the log shown, one per entry (unwrapped)."""
    return [entry.text for entry in chat_of(app).chat_log.model.entries]


async def say_stored(client: NativeClient, text: str, room: str | None = None) -> None:
    await client.send(Say(text=text, client_id=f"k-{text.replace(' ', '-')}", room=room))
    await client.expect(Ack)


async def test_a_restart_on_the_same_data_dir_loses_nothing(tmp_path: Path) -> None:
    async with running_server(data_dir=str(tmp_path)) as first:
        port = first.address[1]
        app = app_for(first, "alice", connect=gated_connection)
        async with app.run_test(size=(100, 40)) as pilot:
            chat = await in_chat(pilot, app)
            bob = await NativeClient.connect(first, "bob")
            await say_stored(bob, "before the restart")
            await log_shows(pilot, app, "bob │ before the restart")
            await submit(pilot, app, "/join #dev")
            await until(pilot, lambda: chat.current.name == "#dev")
            await pilot.press("alt+down")  # back to #lobby
            gate_of(app).clear()  # alice stays away until the test says so
            await first.shutdown()
            await log_shows(pilot, app, "Connection lost: the server is shutting down")
            await submit(pilot, app, "typed while offline")
            async with running_server(port=port, data_dir=str(tmp_path)) as second:
                bob = await NativeClient.connect(second, "bob")
                await bob.send(Join(room="#dev"))
                await bob.expect(RoomInfo)
                for n in range(3):
                    await say_stored(bob, f"missed {n}")
                await say_stored(bob, "missed in dev", room="#dev")
                gate_of(app).set()
                await log_shows(pilot, app, "Reconnected as alice")
                await log_shows(pilot, app, "bob │ missed 2")
                assert chat.status_bar.state is LinkState.ONLINE
                assert said_lines(app, "bob") == [
                    "before the restart",
                    "missed 0",
                    "missed 1",
                    "missed 2",
                ]
                texts = entry_texts(app)
                assert texts.count(GAP) == 1
                assert texts.index("before the restart") < texts.index(GAP)
                assert texts.index(GAP) < texts.index("missed 0")
                # Our offline line went out once, and comes after what we missed.
                heard = await bob.expect(Message)
                assert (heard.text, heard.room) == ("typed while offline", "#lobby")
                await until(pilot, lambda: "··:··" not in log_text(app))
                assert said_lines(app, "alice") == ["typed while offline"]
                texts = entry_texts(app)
                assert texts.index("missed 2") < texts.index("typed while offline")
                # The other room caught up too, in the background.
                assert [item.name for item in chat.room_list.items] == ["#dev", "#lobby"]
                await until(pilot, lambda: chat.room_list.items[0].unread == 1)
                await pilot.press("alt+up")
                assert said_lines(app, "bob") == ["missed in dev"]
                assert GAP in entry_texts(app)
                await bob.sync()
                assert not [m for m in bob.inbox if isinstance(m, Message)]  # nothing twice
                await bob.close()


async def test_a_long_absence_is_paged_in_until_caught_up(tmp_path: Path) -> None:
    async with running_server(history_on_join=3, max_history=4, msg_rate=0) as server:
        app = app_for(server, "alice", connect=gated_connection)
        async with app.run_test(size=(100, 50)) as pilot:
            await in_chat(pilot, app)
            bob = await NativeClient.connect(server, "bob")
            await say_stored(bob, "seen")
            await log_shows(pilot, app, "bob │ seen")
            gate_of(app).clear()
            cut(app)
            await log_shows(pilot, app, "Connection lost")
            for n in range(11):  # the replay holds 4: the client asks for the rest, 4 by 4
                await say_stored(bob, f"away {n}")
            gate_of(app).set()
            await log_shows(pilot, app, "bob │ away 10")
            await say_stored(bob, "live again")
            await log_shows(pilot, app, "bob │ live again")
            expected = ["seen", *(f"away {n}" for n in range(11)), "live again"]
            assert said_lines(app, "bob") == expected
            resume = connection_of(app).resume
            cursor = resume.cursor("#lobby")
            assert cursor is not None
            assert not cursor.catching_up
            await bob.close()


async def test_a_line_whose_ack_was_lost_shows_once() -> None:
    committing = threading.Event()
    slow = threading.Event()

    def hook(batch: int) -> None:
        if slow.is_set():
            committing.set()
            time.sleep(0.3)  # on the writer thread: the say is stored after we cut

    async with running_server(store_hook=hook) as server:
        bob = await NativeClient.connect(server, "bob")
        app = app_for(server, "alice", connect=gated_connection)
        async with app.run_test(size=(100, 30)) as pilot:
            await in_chat(pilot, app)
            gate_of(app).clear()
            slow.set()
            await submit(pilot, app, "did it arrive?")
            async with asyncio.timeout(5):
                while not committing.is_set():
                    await pilot.pause(0.01)
            cut(app)  # before the ack can come
            heard = await bob.expect(Message)  # stored and relayed all the same
            assert heard.text == "did it arrive?"
            slow.clear()
            gate_of(app).set()
            await log_shows(pilot, app, "Reconnected as alice")
            # The replay brings it back, the resend is a duplicate: one line, confirmed.
            await until(pilot, lambda: "··:··" not in log_text(app))
            await until(pilot, lambda: not len(connection_of(app).outbox))
            assert said_lines(app, "alice") == ["did it arrive?"]
            await bob.sync()
            assert not [m for m in bob.inbox if isinstance(m, Message)]
        await bob.close()


async def test_direct_messages_missed_while_away_are_replayed() -> None:
    async with running_server() as server:
        app = app_for(server, "alice", connect=gated_connection)
        async with app.run_test(size=(100, 30)) as pilot:
            await in_chat(pilot, app)
            session = connection_of(app).resume.session
            # alice's second connection (a phone, say) keeps her reachable while the app is away.
            phone = await NativeClient.connect(server)
            await phone.send(Hello(name="alice", session=session))
            assert (await phone.expect(Welcome)).session == session
            bob = await NativeClient.connect(server, "bob")
            await bob.send(Say(text="first", to="alice", client_id="d1"))
            await until(pilot, lambda: listed(app) == ["#lobby", "!bob 1"])
            gate_of(app).clear()
            cut(app)
            await log_shows(pilot, app, "Connection lost")
            await bob.send(Say(text="while you were out", to="alice", client_id="d2"))
            await bob.expect(Ack)
            gate_of(app).set()
            await log_shows(pilot, app, "Reconnected as alice")
            chat = chat_of(app)
            await until(pilot, lambda: listed(app) == ["#lobby", "!bob 2"])
            await pilot.press("alt+down")
            assert chat.current.name == "bob"
            assert said_lines(app, "bob") == ["first", "while you were out"]
            await phone.close()
            await bob.close()


async def test_a_server_without_storage_restarting_its_ids_loses_no_line() -> None:
    async with running_server(storage="none") as first:
        port = first.address[1]
        app = app_for(first, "alice")
        async with app.run_test(size=(100, 30)) as pilot:
            await in_chat(pilot, app)
            bob = await NativeClient.connect(first, "bob")
            await say_stored(bob, "one")  # id 1
            await say_stored(bob, "two")  # id 2
            await log_shows(pilot, app, "bob │ two")
            await first.shutdown()
            await log_shows(pilot, app, "Connection lost")
            async with running_server(port=port, storage="none") as second:
                await log_shows(pilot, app, "Reconnected as alice")
                bob = await NativeClient.connect(second, "bob")
                await say_stored(bob, "three")  # id 1 again: not a duplicate of "one"
                await log_shows(pilot, app, "bob │ three")
                await submit(pilot, app, "four")  # acked as id 2, like "two" was
                await until(pilot, lambda: "··:··" not in log_text(app))
                assert said_lines(app, "bob") == ["one", "two", "three"]
                assert said_lines(app, "alice") == ["four"]
                await say_stored(bob, "five")
                await log_shows(pilot, app, "bob │ five")
                assert entry_texts(app).index("four") < entry_texts(app).index("five")
                await bob.close()


async def test_lines_typed_offline_are_resent_within_the_rate_limit() -> None:
    # Two requests at once, then 20 a second, and cut off past 0.2 s of backlog: eight lines
    # sent at once after reconnecting would be a flood.
    async with running_server(msg_burst=2, msg_rate=20, flood_backlog=0.2) as server:
        bob = await NativeClient.connect(server, "bob")
        app = app_for(server, "alice", connect=gated_connection)
        async with app.run_test(size=(100, 30)) as pilot:
            await in_chat(pilot, app)
            gate_of(app).clear()
            cut(app)
            await until(pilot, lambda: connection_of(app).state is LinkState.OFFLINE)
            for n in range(8):
                await submit(pilot, app, f"offline {n}")
            gate_of(app).set()
            heard = [m.text for m in await bob.collect(Message, 8)]
            assert heard == [f"offline {n}" for n in range(8)]
            await until(pilot, lambda: not len(connection_of(app).outbox))
            assert connection_of(app).state is LinkState.ONLINE
            assert "flood" not in log_text(app)
            await bob.sync()
            assert not [m for m in bob.inbox if isinstance(m, Message)]  # each once
        await bob.close()
