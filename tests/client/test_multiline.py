"""Blocks of several lines: typed with Ctrl+J or pasted, sent as one message per line, and a
long one only once confirmed (issue 11, item 2)."""

from __future__ import annotations

from textual import events

from tests.support.app import app_for, chat_of, in_chat, until
from tests.support.net import NativeClient
from wirechat_client.blocks import parse_block
from wirechat_client.commands import Invalid, Run, Send
from wirechat_client.config import ClientConfig
from wirechat_client.screens.confirm import Confirm
from wirechat_common import Message
from wirechat_server.server import ChatServer


def test_a_block_is_said_line_by_line_and_verbatim() -> None:
    assert parse_block("one\r\n/etc/hosts\n\n  indented  \r// c") == [
        Send("one"),
        Send("/etc/hosts"),
        Send("  indented"),
        Send("// c"),
    ]
    assert parse_block("/quit\n") == [Run("/quit")]  # one line is still a command
    assert parse_block("\n \n") == []
    too_long = parse_block("fine\n" + "x" * 20, max_text_bytes=16)
    assert too_long == [Invalid("not sent: line 2 of 2: text is longer than 16 bytes of UTF-8")]


async def test_ctrl_j_starts_a_new_line_and_enter_sends_each(server: ChatServer) -> None:
    bob = await NativeClient.connect(server, "bob")
    app = app_for(server, "alice")
    async with app.run_test(size=(100, 30)) as pilot:
        chat = await in_chat(pilot, app)
        await pilot.press(*"first", "ctrl+j", *"secnd", "ctrl+j", "backspace")
        assert chat.chat_input.draft == ["first"]
        assert chat.chat_input.value == "secnd"
        await pilot.press("left", "left", "o", "ctrl+j", "end", "enter")
        received = await bob.collect(Message, 3)
        assert [m.text for m in received] == ["first", "seco", "nd"]
        assert chat.chat_input.text == ""
        assert not chat.draft_view.display
    await bob.close()


async def test_a_pasted_block_waits_in_the_input_and_is_sent_by_line(server: ChatServer) -> None:
    bob = await NativeClient.connect(server, "bob")
    app = app_for(server, "alice")
    async with app.run_test(size=(100, 30)) as pilot:
        chat = await in_chat(pilot, app)
        await pilot.press(*"so", "ctrl+j", *"see: ")
        app.post_message(events.Paste("one\rtwo\rthree"))  # tmux sends CR between lines
        await until(pilot, lambda: chat.chat_input.text == "so\nsee: one\ntwo\nthree")
        assert chat.draft_view.display
        await pilot.press("enter")
        received = await bob.collect(Message, 4)
        assert [m.text for m in received] == ["so", "see: one", "two", "three"]
    await bob.close()


async def test_a_long_block_asks_first(server: ChatServer) -> None:
    bob = await NativeClient.connect(server, "bob")
    app = app_for(server, "alice", config=ClientConfig(paste_confirm_lines=2))
    block = "a\nb\nc"
    async with app.run_test(size=(100, 30)) as pilot:
        chat = await in_chat(pilot, app)
        app.post_message(events.Paste(block))
        await until(pilot, lambda: chat.chat_input.text == block)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, Confirm))
        await pilot.press("n")  # back to the input, nothing sent
        await until(pilot, lambda: app.screen is chat and chat.chat_input.text == block)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, Confirm))
        await pilot.press("y")
        received = await bob.collect(Message, 3)
        assert [m.text for m in received] == ["a", "b", "c"]
        assert chat_of(app).chat_input.text == ""
    await bob.close()
