"""Coalescing: messages sent at about the same moment share one commit and one write.

The first message after a quiet moment goes at once; while more keep coming, the server gathers
them for ``coalesce_delay`` before it hands them to the disk and writes them to members. These tests
make it long (a tenth of a second, the most allowed) and send five messages a few milliseconds
apart, each in a turn of the loop of its own, then look at what the disk (the store's commit
hook) and the server's writes to a receiver saw: the first alone, the other four together.
Without the delay the same sends are committed and written one by one. One batch more is
accepted with the delay, so that one stall of this machine between two sends does not fail
the test.
"""

from __future__ import annotations

import asyncio

import pytest

from tests.support.net import NativeClient, running_server
from wirechat_common import Ack, Message, Say
from wirechat_server.fanout import QUIET_FACTOR
from wirechat_server.server import ChatServer

DELAY = 0.1  # the longest allowed
SPACING = 0.005  # between two sends: 20 ms from the first to the last
SENDERS = 5


@pytest.fixture
def writes_to_reader(server_writes: dict[str, list[bytes]]) -> list[bytes]:
    """Every write the server makes to the connection named ``reader``."""
    return server_writes["reader"]


async def _room(server: ChatServer) -> tuple[NativeClient, list[NativeClient]]:
    receiver = await NativeClient.connect(server, "reader")
    senders = [await NativeClient.connect(server, f"sender{i}") for i in range(SENDERS)]
    await receiver.sync()  # the senders' joins are read; what comes next are their messages
    receiver.inbox.clear()
    return receiver, senders


async def _say_spaced(senders: list[NativeClient]) -> None:
    for index, sender in enumerate(senders):
        await sender.send(Say(text=f"line {index}", client_id=f"c{index}"))
        await asyncio.sleep(SPACING)  # the server reads it in a turn of its own


async def _received(receiver: NativeClient, writes: list[bytes]) -> list[int]:
    """Wait for the five messages; return how many each write that carried any held."""
    texts = sorted(message.text for message in await receiver.collect(Message, SENDERS))
    assert texts == [f"line {index}" for index in range(SENDERS)]
    counts = [data.count(b'"type":"message"') for data in writes]
    return [count for count in counts if count]


async def test_messages_sent_together_are_committed_together_and_written_once(
    writes_to_reader: list[bytes],
) -> None:
    batches: list[int] = []
    async with running_server(
        coalesce_delay=DELAY, msg_rate=0, store_hook=batches.append
    ) as server:
        receiver, senders = await _room(server)
        # A quiet moment (nothing stored or written for QUIET_FACTOR delays: the setup's
        # session saves and joins are older), which is what lets the first message go at once.
        await asyncio.sleep(DELAY * QUIET_FACTOR * 1.1)
        writes_to_reader.clear()
        batches.clear()
        await _say_spaced(senders)

        per_write = await _received(receiver, writes_to_reader)
        assert sum(batches) == SENDERS
        assert batches[0] == 1, batches  # the first waited for nothing...
        assert len(batches) <= 3, batches  # ...the others for each other
        assert per_write[0] == 1, per_write
        assert len(per_write) <= 3, per_write
        for sender in senders:
            assert (await sender.expect(Ack)).duplicate is False


async def test_without_storage_messages_sent_together_reach_a_member_in_one_write(
    writes_to_reader: list[bytes],
) -> None:
    async with running_server(coalesce_delay=DELAY, msg_rate=0, storage="none") as server:
        receiver, senders = await _room(server)
        writes_to_reader.clear()
        await _say_spaced(senders)

        per_write = await _received(receiver, writes_to_reader)
        assert len(per_write) <= 2, per_write


async def test_without_a_delay_the_same_messages_are_committed_and_written_apart(
    writes_to_reader: list[bytes],
) -> None:
    batches: list[int] = []
    async with running_server(coalesce_delay=0, msg_rate=0, store_hook=batches.append) as server:
        receiver, senders = await _room(server)
        writes_to_reader.clear()
        await _say_spaced(senders)

        per_write = await _received(receiver, writes_to_reader)
        assert sum(batches) == SENDERS
        assert len(batches) >= 3, batches
        assert len(per_write) >= 3, per_write
