"""Keys that arrive faster than the app reads them: every Enter sends what was typed before
it, once (issue 11, item 1; the Textual bug behind it is in docs/textual-input-bug.md)."""

from __future__ import annotations

from tests.support.app import app_for, in_chat, until
from tests.support.keys import burst, typed
from tests.support.net import NativeClient
from wirechat_common import Message
from wirechat_server.server import ChatServer


async def test_lines_typed_in_one_burst_are_sent_apart_and_once(server: ChatServer) -> None:
    bob = await NativeClient.connect(server, "bob")
    app = app_for(server, "alice")
    async with app.run_test(size=(100, 30)) as pilot:
        chat = await in_chat(pilot, app)
        burst(app, *typed("hi bo\nsecond line\nthird\n"))
        received = await bob.collect(Message, 3)
        assert [m.text for m in received] == ["hi bo", "second line", "third"]
        await bob.sync()
        assert not [m for m in bob.inbox if isinstance(m, Message)], "a line was sent twice"
        assert chat.chat_input.value == ""
    await bob.close()


async def test_editing_keys_in_a_burst_apply_where_they_were_typed(server: ChatServer) -> None:
    bob = await NativeClient.connect(server, "bob")
    app = app_for(server, "alice")
    async with app.run_test(size=(100, 30)) as pilot:
        chat = await in_chat(pilot, app)
        # Backspace, then Up (the line sent before) and Enter again, all in one read.
        burst(app, *"abc", "backspace", *typed("d\n"), "up", "enter", *"half")
        received = await bob.collect(Message, 2)
        assert [m.text for m in received] == ["abd", "abd"]
        await until(pilot, lambda: chat.chat_input.value == "half")
        assert chat.chat_input.history.back("") == "abd"
    await bob.close()
