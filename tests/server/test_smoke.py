"""The lab transcript, end to end: the first thing that must always work."""

from __future__ import annotations

from tests.helpers import NativeClient, PlainClient
from wirechat_common import LeaveReason, Left, Message, Say
from wirechat_server.server import ChatServer


async def test_lab_transcript_plain_and_native(server: ChatServer) -> None:
    ryuka = await PlainClient.connect(server, "Ryuka", newline=False)
    ash = await NativeClient.connect(server, "Ash")
    assert ash.welcome is not None
    assert ash.welcome.users == ["Ash", "Ryuka"]
    assert await ryuka.recv_line() == "Ash joined the conversation"

    await ash.send(Say(text="Hey there"))
    assert await ryuka.recv_line() == "Ash: Hey there"
    await ryuka.send_line("Hello")
    message = await ash.expect(Message)
    assert (message.sender, message.text) == ("Ryuka", "Hello")

    await ryuka.send_line("bye")
    assert await ryuka.expect_closed() == ["Goodbye!"]
    left = await ash.expect(Left)
    assert (left.name, left.reason) == ("Ryuka", LeaveReason.QUIT)
    await ash.close()
