"""The real app, driven with Pilot, against a real server on an ephemeral port."""

from __future__ import annotations

import asyncio
from pathlib import Path

from textual.pilot import Pilot

from tests.support.app import (
    EVERY_JOIN,
    app_for,
    chat_of,
    in_chat,
    log_shows,
    log_text,
    submit,
    until,
)
from tests.support.net import NativeClient, PlainClient, running_server
from wirechat_client.address import Address
from wirechat_client.app import WirechatApp
from wirechat_client.events import LinkState
from wirechat_client.prefs import Prefs
from wirechat_client.screens.chat import ChatScreen
from wirechat_client.screens.confirm import Confirm
from wirechat_client.screens.connect import ConnectScreen
from wirechat_common import (
    MAX_FRAME_BYTES,
    ClientMessage,
    Decoder,
    Error,
    Hello,
    Message,
    Say,
    Welcome,
    encode,
)
from wirechat_server.server import ChatServer


async def test_two_apps_exchange_messages(server: ChatServer) -> None:
    alice, bob = app_for(server, "alice"), app_for(server, "bob")
    async with alice.run_test(size=(100, 30)) as a_pilot, bob.run_test(size=(100, 30)) as b_pilot:
        await in_chat(a_pilot, alice)
        await in_chat(b_pilot, bob)
        await a_pilot.press(*"hello bob", "enter")
        await log_shows(b_pilot, bob, "alice │ hello bob")
        await b_pilot.press(*"/me waves back", "enter")
        await log_shows(a_pilot, alice, "* │ bob waves back")
        # Our own line gets its time from the server's ack; until then it shows ··:··.
        await until(a_pilot, lambda: chat_of(alice).chat_log.model.entries[-2].ts is not None)
        assert "··:··" not in log_text(alice)


async def test_app_and_a_netcat_user(server: ChatServer) -> None:
    app = app_for(server, "alice", config=EVERY_JOIN)
    async with app.run_test(size=(100, 30)) as pilot:
        await in_chat(pilot, app)
        carol = await PlainClient.connect(server, "carol")
        await log_shows(pilot, app, "carol joined")
        await carol.send_line("hi from nc, alice")
        await log_shows(pilot, app, "carol │ hi from nc, alice")
        mention = chat_of(app).chat_log.model.entries[-1]
        assert mention.mention
        assert not mention.own
        await submit(pilot, app, "hi carol")
        assert await carol.expect_line("alice: hi carol") == "alice: hi carol"
        await carol.close()


async def test_user_list_follows_joins_and_leaves(server: ChatServer) -> None:
    app = app_for(server, "alice", config=EVERY_JOIN)
    async with app.run_test(size=(100, 30)) as pilot:
        users = (await in_chat(pilot, app)).user_list
        assert list(users.names) == ["alice"]
        zed = await NativeClient.connect(server, "Zed")
        bob = await NativeClient.connect(server, "bob")
        await until(pilot, lambda: list(users.names) == ["alice", "bob", "Zed"])
        assert users.border_title == "3 users"
        await zed.close()
        await until(pilot, lambda: list(users.names) == ["alice", "bob"])
        await log_shows(pilot, app, "Zed left (connection lost)")
        await bob.send_raw(b'{"type":"bye"}\n')
        await until(pilot, lambda: list(users.names) == ["alice"])
        assert "bob left" in log_text(app)
        assert users.border_title == "1 user"
        await bob.close()


async def test_choosing_a_user_starts_a_mention(server: ChatServer) -> None:
    app = app_for(server, "alice")
    async with app.run_test(size=(100, 30)) as pilot:
        chat = await in_chat(pilot, app)
        bob = await NativeClient.connect(server, "bob")
        await until(pilot, lambda: "bob" in chat.user_list.names)
        await pilot.press("shift+tab")  # Tab completes in the input; Shift+Tab leaves it
        assert chat.user_list.has_focus
        await pilot.press("home", "down", "enter")  # alice, then bob
        await until(pilot, lambda: chat.chat_input.value == "bob: ")
        assert chat.chat_input.has_focus
        await bob.close()


async def test_name_clash_shows_an_error_on_the_connect_screen(server: ChatServer) -> None:
    taken = await NativeClient.connect(server, "alice")
    app = app_for(server, "Alice")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.connect_screen
        await until(pilot, lambda: "taken" in message_of(screen))
        assert app.screen is screen
        assert app.is_running
        assert "The name Alice is taken: choose another." in message_of(screen)
        # The name is focused and selected: typing replaces it, and the form still works.
        await pilot.press(*"alice2", "enter")
        await in_chat(pilot, app)
        assert chat_of(app).me == "alice2"
    await taken.close()


async def test_unreachable_server_and_bad_name_errors(tmp_path: Path) -> None:
    async with running_server() as server:
        host, port = server.address
    # The server is gone: nothing listens on that port any more.
    app = WirechatApp(prefs=Prefs(None))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.connect_screen
        await retype(pilot, "#server", f"{host}:{port}")
        await retype(pilot, "#name", "bad name!")
        await pilot.press("enter")
        assert "Name: 1 to 32 characters" in message_of(screen)
        await pilot.press("ctrl+u", *"alice", "enter")
        await until(pilot, lambda: "Could not connect" in message_of(screen))
        assert f"nothing is listening on {host}:{port}" in message_of(screen)
        await retype(pilot, "#server", "host:99999")
        await pilot.press("enter")
        assert "port must be a number" in message_of(screen)
        assert app.is_running


async def test_connect_screen_remembers_the_last_values(tmp_path: Path) -> None:
    async with running_server() as server:
        app = app_for(server, "", connect_now=False, prefs_dir=tmp_path)
        async with app.run_test(size=(80, 24)) as pilot:
            await retype(pilot, "#server", "{}:{}".format(*server.address))
            await pilot.press("enter", *"dora", "enter")
            await in_chat(pilot, app)
            await submit(pilot, app, "/quit")
        again = WirechatApp(prefs=Prefs(tmp_path / "client.json"))
        async with again.run_test(size=(80, 24)) as pilot:
            assert value_of(again, "#name") == "dora"
            assert value_of(again, "#server") == "{}:{}".format(*server.address)


async def test_reconnects_after_the_server_restarts() -> None:
    async with running_server() as first:
        host, port = first.address
        app = app_for(first, "alice")
        async with app.run_test(size=(100, 30)) as pilot:
            chat = await in_chat(pilot, app)
            await first.shutdown()
            await log_shows(pilot, app, "Connection lost: the server is shutting down")
            assert state_of(chat) in (LinkState.OFFLINE, LinkState.CONNECTING)
            # Typing stays possible while offline; the line goes out after re-registering.
            await submit(pilot, app, "typed while offline")
            async with running_server(port=port) as second:
                assert second.address == (host, port)
                watcher = await NativeClient.connect(second, "watcher")
                await log_shows(pilot, app, "Reconnected as alice")
                assert state_of(chat) is LinkState.ONLINE
                said = await watcher.expect(Message)
                assert (said.sender, said.text) == ("alice", "typed while offline")
                await until(pilot, lambda: "alice" in chat.user_list.names)
                await watcher.close()
                await submit(pilot, app, "/quit")


async def test_slash_commands(server: ChatServer) -> None:
    bob = await NativeClient.connect(server, "bob")
    app = app_for(server, "alice")
    async with app.run_test(size=(100, 30)) as pilot:
        chat = await in_chat(pilot, app)
        await submit(pilot, app, "/who")
        await log_shows(pilot, app, "2 here: alice, bob")
        await submit(pilot, app, "/help")
        await log_shows(pilot, app, "/me ACTION")
        await submit(pilot, app, "/frobnicate now")
        await log_shows(pilot, app, "unknown command /frobnicate")
        await submit(pilot, app, "/me")
        await log_shows(pilot, app, "usage: /me ACTION")
        await submit(pilot, app, "//etc/hosts is a path")
        said = await bob.expect(Message)
        # The unknown command never reached the server: the first thing bob hears is this.
        assert (said.text, said.action) == ("/etc/hosts is a path", False)
        await submit(pilot, app, "/me dances")
        said = await bob.expect(Message)
        assert (said.text, said.action) == ("dances", True)
        await submit(pilot, app, "/clear")
        await until(pilot, lambda: not chat.chat_log.model.entries)
        await submit(pilot, app, "bye")
        await until(pilot, lambda: isinstance(app.screen, Confirm))
        await pilot.press("y")
        await until(pilot, lambda: not app.is_running)
    assert "alice" not in server.core.users()
    await bob.close()


async def test_input_history_and_completion(server: ChatServer) -> None:
    others = [await NativeClient.connect(server, name) for name in ("bob", "bobby", "carol")]
    app = app_for(server, "alice")
    async with app.run_test(size=(100, 30)) as pilot:
        chat = await in_chat(pilot, app)
        box = chat.chat_input
        await until(pilot, lambda: len(chat.user_list.names) == 4)
        for line in ("first", "second"):
            await pilot.press(*line, "enter")
        await pilot.press(*"draft")
        await pilot.press("up")
        assert box.value == "second"
        await pilot.press("up", "up")
        assert box.value == "first"
        await pilot.press("down", "down")
        assert box.value == "draft"
        await pilot.press("ctrl+u", "c", "tab")
        assert box.value == "carol: "
        await pilot.press("ctrl+u", *"ask B", "tab")
        assert box.value == "ask bob "
        await pilot.press("tab")
        assert box.value == "ask bobby "
        await pilot.press("tab")
        assert box.value == "ask bob "
        await pilot.press("ctrl+u", *"/wh", "tab")
        assert box.value == "/who "
        await pilot.press("ctrl+u", "/", "tab")
        assert box.value == "/clear "
    for other in others:
        await other.close()


async def test_a_small_server_limit_is_enforced_locally() -> None:
    async with running_server(max_text_bytes=16) as server:
        app = app_for(server, "alice")
        async with app.run_test(size=(100, 30)) as pilot:
            await in_chat(pilot, app)
            await submit(pilot, app, "this line is longer than sixteen bytes")
            await log_shows(pilot, app, "not sent: text is longer than 16 bytes")


async def retype(pilot: Pilot[None], selector: str, text: str) -> None:
    """Click a field and replace what it holds, the way a user would."""
    await pilot.click(selector)
    await pilot.press("end", "ctrl+u", *text)


def state_of(chat: ChatScreen) -> LinkState:
    return chat.status_bar.state


def message_of(screen: ConnectScreen) -> str:
    return str(screen.query_one("#connect-message").render())


def value_of(app: WirechatApp, selector: str) -> str:
    from textual.widgets import Input

    return app.screen.query_one(selector, Input).value


async def test_a_line_the_server_refuses_is_marked_failed_not_left_pending() -> None:
    # A scripted peer that refuses every say with the say's own client_id, as a server does
    # when its rules are stricter than what it announced.
    async def refuse_everything(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        decoder = Decoder(MAX_FRAME_BYTES, types=ClientMessage)
        while data := await reader.read(65536):
            for message in decoder.feed(data):
                if isinstance(message, Hello):
                    welcome = Welcome(name=message.name, users=[message.name], version=1)
                    writer.write(encode(welcome))
                elif isinstance(message, Say):
                    refusal = Error(
                        code="invalid_text", detail="not here", client_id=message.client_id
                    )
                    writer.write(encode(refusal))
        writer.close()

    listener = await asyncio.start_server(refuse_everything, "127.0.0.1", 0)
    host, port = listener.sockets[0].getsockname()[:2]
    app = app_for(Address(host, port), "alice")
    async with app.run_test(size=(100, 30)) as pilot:
        chat = await in_chat(pilot, app)
        await submit(pilot, app, "refused line")
        await log_shows(pilot, app, "refused line  (refused: not here)")
        own = next(entry for entry in chat.chat_log.model.entries if entry.text == "refused line")
        assert own.failed
        assert own.failure == "not here"
        assert "··:··" not in "\n".join(chat.chat_log.lines_text())
        # A later line is not held behind the refused one.
        await submit(pilot, app, "second")
        await log_shows(pilot, app, "second  (refused: not here)")
    listener.close()
    await listener.wait_closed()


async def test_a_crowded_server_is_counted_not_listed_in_the_greeting() -> None:
    async with running_server(welcome_users=2) as server:
        others = [await NativeClient.connect(server, name) for name in ("bea", "cal", "dot")]
        app = app_for(server, "alice")
        async with app.run_test(size=(100, 30)) as pilot:
            await in_chat(pilot, app)
            # The greeting counts all four; the lobby's member list (from its room frame) is whole.
            await log_shows(pilot, app, "4 online: alice, bea and 2 more.")
            await until(pilot, lambda: chat_of(app).current.users == ["alice", "bea", "cal", "dot"])
        for other in others:
            await other.close()
