"""Coalescing: messages sent at about the same moment share one commit and one write.

``coalesce_delay`` is the time the server lets messages gather after the first of a quiet
moment. These tests make it long (a tenth of a second, the most allowed) so that five senders
writing one after another surely fall inside it, then look at what the disk and a receiver's
socket saw.
"""

from __future__ import annotations

import asyncio

from tests.helpers import WAIT, NativeClient, running_server
from wirechat_common import Ack, Message, Say
from wirechat_server.server import ChatServer

DELAY = 0.1  # the longest allowed
SENDERS = 5


async def _room(target: ChatServer) -> tuple[NativeClient, list[NativeClient]]:
    receiver = await NativeClient.connect(target, "reader")
    senders = [await NativeClient.connect(target, f"sender{i}") for i in range(SENDERS)]
    await receiver.sync()  # the senders' joins are read; the next bytes are their messages
    receiver.inbox.clear()
    return receiver, senders


async def _say_at_once(senders: list[NativeClient]) -> None:
    for index, sender in enumerate(senders):
        await sender.send(Say(text=f"line {index}", client_id=f"c{index}"))


async def _one_read(receiver: NativeClient) -> bytes:
    async with asyncio.timeout(WAIT):
        return await receiver.reader.read(65536)


async def test_messages_sent_together_are_committed_together_and_written_once() -> None:
    batches: list[int] = []
    async with running_server(
        coalesce_delay=DELAY, msg_rate=0, store_hook=batches.append
    ) as server:
        receiver, senders = await _room(server)
        await _say_at_once(senders)

        chunk = await _one_read(receiver)
        assert chunk.count(b'"type":"message"') == SENDERS, chunk
        assert batches == [SENDERS]  # one transaction, one fsync, for all five
        for sender in senders:
            assert (await sender.expect(Ack)).duplicate is False


async def test_without_storage_messages_sent_together_reach_a_member_in_one_write() -> None:
    async with running_server(coalesce_delay=DELAY, msg_rate=0, storage="none") as server:
        receiver, senders = await _room(server)
        await _say_at_once(senders)

        chunk = await _one_read(receiver)
        assert chunk.count(b'"type":"message"') == SENDERS, chunk
        receiver.inbox.extend(receiver.decoder.feed(chunk))
        texts = [message.text for message in await receiver.collect(Message, SENDERS)]
        assert sorted(texts) == [f"line {index}" for index in range(SENDERS)]


async def test_without_a_delay_each_message_is_its_own_commit() -> None:
    batches: list[int] = []
    async with running_server(coalesce_delay=0, msg_rate=0, store_hook=batches.append) as server:
        receiver, senders = await _room(server)
        for index, sender in enumerate(senders):
            await sender.send(Say(text=f"line {index}", client_id=f"c{index}"))
            await sender.expect(Ack)  # committed before the next one is sent
        assert batches == [1] * SENDERS
        assert [m.text for m in await receiver.collect(Message, SENDERS)] == [
            f"line {index}" for index in range(SENDERS)
        ]
