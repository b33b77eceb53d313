"""The chat server over a disk that fails, crawls or fills up (catalogue E5, E6; spec 6).

In-process servers built with ``ChatServer(config, store_hook=...)``: the hook runs on the
store's writer thread before each commit and fails or slows it the way a broken or dying disk
would. The full disk is real: a small tmpfs (needs root, else skipped), and ``RLIMIT_FSIZE`` on
a ``chat-server`` process (no root needed).
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import sqlite3
import threading
from pathlib import Path

import psutil
import pytest

from tests.support.disks import fill
from tests.support.net import WAIT
from tests.support.process import server_process
from tests.support.rooms import (
    Chat,
    ids,
    of_type,
    of_types,
    serving,
    strictly_increasing,
    texts_of,
)
from wirechat_common import Ack, Error, ErrorCode, Message, Ping, Pong, Say
from wirechat_server.config import DATABASE_NAME
from wirechat_server.storage import space

pytestmark = pytest.mark.timeout(30)


def disk_error() -> sqlite3.OperationalError:
    return sqlite3.OperationalError("disk I/O error")


# -- a failing commit ---------------------------------------------------------------------


async def test_a_failing_disk_refuses_messages_serves_the_rest_and_recovers() -> None:
    failing = threading.Event()

    def hook(size: int) -> None:
        if failing.is_set():
            raise disk_error()

    async with serving(store_hook=hook) as server:
        alice = await Chat.hello(server, "alice")
        bob = await Chat.hello(server, "bob")
        before = await alice.say("before")
        await bob.drain()

        failing.set()
        for request in (
            Say(text="during", client_id="f1"),
            Say(text="dm during", to="bob", client_id="f2"),
        ):
            error = await alice.refused(request)
            assert (error.code, error.client_id, error.fatal) == (
                ErrorCode.STORAGE_UNAVAILABLE,
                request.client_id,
                False,
            )
        # Nothing was relayed; pings, history, registering and joining still work.
        assert of_type(await bob.drain(), Message) == []
        assert ids((await bob.page("#lobby")).messages) == [before.id]
        carol = await Chat.hello(server, "carol")
        _, history = await carol.join("#elsewhere")
        assert history.messages == []

        failing.clear()
        after = await alice.say("during", client_id="f1")  # the refused one, sent again
        assert (after.duplicate, after.id > before.id) == (False, True)
        message = await bob.answer(Message)
        assert isinstance(message, Message)
        assert (message.id, message.text) == (after.id, "during")
        assert [(m.id, m.text) for m in (await bob.page("#lobby")).messages] == [
            (before.id, "before"),
            (after.id, "during"),
        ]
        for client in (alice, bob, carol):
            await client.close()


async def test_storage_errors_do_not_count_as_the_clients_errors() -> None:
    """A client whose lines the disk refuses broke no rule: it is not cut off for them
    (max_consecutive_errors counts refused requests)."""
    failing = threading.Event()

    def hook(size: int) -> None:
        if failing.is_set():
            raise disk_error()

    async with serving(store_hook=hook, max_consecutive_errors=3) as server:
        alice = await Chat.hello(server, "alice")
        failing.set()
        for n in range(6):
            error = await alice.refused(Say(text=f"line {n}", client_id=f"e{n}"))
            assert error.code == ErrorCode.STORAGE_UNAVAILABLE
        failing.clear()
        await alice.say("and now it works")
        await alice.close()


# -- a slow disk --------------------------------------------------------------------------


async def test_a_slow_disk_delays_acks_in_order_and_never_stalls_the_loop() -> None:
    """While a commit is stuck on the disk, the loop keeps serving: timers fire, pings are
    answered, others register and join, and nothing is acked or relayed before it is stored.
    Once the disk moves again, every ack comes, in order. (What the disk's slowness costs in
    milliseconds belongs to ``bench/``; here the commit is held by an event, so a busy machine
    cannot change the outcome.)"""
    commits: list[int] = []
    stuck, moving = threading.Event(), threading.Event()

    def slow(size: int) -> None:
        commits.append(size)
        stuck.set()
        moving.wait(2 * WAIT)

    async with serving(store_hook=slow) as server:
        try:
            clients = [await Chat.hello(server, name) for name in ("alice", "bob", "carol")]
            watcher = await Chat.hello(server, "watcher")
            for client in [*clients, watcher]:
                await client.drain()

            async def round_of_says(n: int) -> None:
                for index, client in enumerate(clients):
                    await client.send(
                        *(
                            Say(text=f"{index}.{n}.{k}", client_id=f"{index}-{n}-{k}")
                            for k in range(5)
                        )
                    )

            await round_of_says(0)
            assert await asyncio.to_thread(stuck.wait, WAIT)
            for n in range(1, 4):  # three more rounds pile up behind the stuck commit
                await round_of_says(n)

            # The writer thread is stuck in a commit; the loop is not.
            await clients[0].send(Ping(token="during"))
            assert await clients[0].answer(Pong) == Pong(token="during")
            dave = await Chat.hello(server, "dave")
            await dave.join("#elsewhere")
            assert not moving.is_set()  # all of that happened inside the one stuck commit
            for client in [*clients, watcher]:
                assert of_types(await client.drain(), Ack, Message) == []
        finally:
            moving.set()

        acked: list[list[Ack]] = []
        for index, client in enumerate(clients):
            acks = await client.collect(Ack, 20)
            assert [a.client_id for a in acks] == [
                f"{index}-{n}-{k}" for n in range(4) for k in range(5)
            ]
            assert strictly_increasing(ids(acks))
            acked.append(acks)
        relayed = await watcher.collect(Message, 60)
        assert ids(relayed) == sorted(a.id for acks in acked for a in acks)
        assert len(commits) >= 2  # what arrived during the stuck commit went in a later one
        for client in [*clients, watcher, dave]:
            await client.close()


async def test_a_full_write_queue_answers_busy_and_accepts_again_later() -> None:
    gate, entered = threading.Event(), threading.Event()

    def stuck(size: int) -> None:
        entered.set()
        gate.wait(WAIT)

    write_queue = 5
    async with serving(store_hook=stuck, write_queue=write_queue) as server:
        try:
            alice = await Chat.hello(server, "alice")
            bob = await Chat.hello(server, "bob")
            await bob.drain()
            cids = [f"q{n}" for n in range(20)]
            await alice.send(*(Say(text=cid, client_id=cid) for cid in cids))
            assert await asyncio.to_thread(entered.wait, WAIT)
            refused = of_type(await alice.drain(), Error)
            assert {e.code for e in refused} == {ErrorCode.BUSY}
            assert not any(e.fatal for e in refused)
            busy = [e.client_id for e in refused]
            accepted = [cid for cid in cids if cid not in busy]
            assert 1 <= len(accepted) <= write_queue
            assert cids[-1] in busy
            assert len(busy) + len(accepted) == len(cids)
            assert server.store is not None
            assert server.store.pending <= write_queue  # bounded, not a growing queue
        finally:
            gate.set()
        acks = await alice.collect(Ack, len(accepted))
        assert [a.client_id for a in acks] == accepted
        assert texts_of(await bob.collect(Message, len(accepted))) == accepted
        # Room again: a busy line sent anew is taken.
        again = await alice.say(cids[-1], client_id=cids[-1])  # the last one was refused
        assert again.duplicate is False
        await alice.close()
        await bob.close()


# -- a full disk --------------------------------------------------------------------------


def largest_file(directory: Path) -> int:
    return max(path.stat().st_size for path in directory.iterdir())


async def refused_until_full(alice: Chat, prefix: str, limit: int = 50) -> tuple[list[Ack], Error]:
    """Say 2 KB lines until one is refused; return the acks before it and the refusal."""
    acks: list[Ack] = []
    for n in range(limit):
        await alice.send(Say(text="x" * 2000, client_id=f"{prefix}{n}"))
        reply = await alice.answer(Ack, Error)
        if isinstance(reply, Error):
            return acks, reply
        assert isinstance(reply, Ack)
        acks.append(reply)
    raise AssertionError(f"{limit} lines of 2 KB were all stored on a full disk")


async def test_a_full_disk_refuses_messages_and_recovers_when_space_returns(
    small_disk: Path,
) -> None:
    # No free-space floor: what a disk that really fills up does (the floor is tested below).
    async with serving(small_disk, min_free_disk=0) as server:
        alice = await Chat.hello(server, "alice")
        bob = await Chat.hello(server, "bob")
        before = await alice.seed(3)
        filler = fill(small_disk)
        squeezed, error = await refused_until_full(alice, "full")
        assert (error.code, error.fatal) == (ErrorCode.STORAGE_UNAVAILABLE, False)
        assert error.client_id == f"full{len(squeezed)}"
        # Still up, still readable; bob got exactly what was acked.
        stored = await bob.everything("#lobby", 200)
        assert ids(stored) == ids(before) + ids(squeezed)
        relayed = of_type(await bob.drain(), Message)
        assert ids(relayed) == ids(before) + ids(squeezed)
        error = await alice.refused(Say(text="y" * 2000, client_id="still-full"))
        assert error.code == ErrorCode.STORAGE_UNAVAILABLE

        filler.unlink()
        again = await alice.say("x" * 2000, client_id=error.client_id)
        assert again.duplicate is False
        message = await bob.answer(Message)
        assert isinstance(message, Message)
        assert message.id == again.id
        database = server.config.database
        await alice.close()
        await bob.close()
    with contextlib.closing(sqlite3.connect(database)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


async def said_again(alice: Chat, client_id: str) -> Ack:
    """Say the refused line again until it is taken (space checks are cached for a second)."""
    async with asyncio.timeout(WAIT):
        while True:
            await alice.send(Say(text="x" * 2000, client_id=client_id))
            reply = await alice.answer(Ack, Error)
            if isinstance(reply, Ack):
                return reply
            assert isinstance(reply, Error)
            assert reply.code == ErrorCode.STORAGE_FULL
            await asyncio.sleep(0.1)  # the check's own period: no event tells space came back


async def test_under_the_free_space_floor_messages_are_refused_and_history_reads_on(
    small_disk: Path,
) -> None:
    async with serving(small_disk, min_free_disk=128 * 1024) as server:
        alice = await Chat.hello(server, "alice")
        bob = await Chat.hello(server, "bob")
        before = await alice.seed(3)
        # Leave about 64 KiB free: under the floor, far from full. Space is looked at once a
        # second, so the next look is awaited: that is the check's period, not an event.
        free = shutil.disk_usage(small_disk).free
        filler = small_disk / "filler"
        filler.write_bytes(b"\0" * (free - 64 * 1024))
        await asyncio.sleep(space.CHECK_EVERY)
        error = await alice.refused(Say(text="x" * 2000, client_id="floor"))
        assert (error.code, error.fatal, error.client_id) == (
            ErrorCode.STORAGE_FULL,
            False,
            "floor",
        )
        assert "under the floor" in error.detail
        # Everyone is refused alike; reading goes on; nothing acked is missing.
        refused = await bob.refused(Say(text="me too", client_id="b1"))
        assert refused.code == ErrorCode.STORAGE_FULL
        stored = await bob.everything("#lobby", 200)
        assert ids(stored) == ids(before)

        filler.unlink()
        again = await said_again(alice, "floor")
        assert again.duplicate is False
        await alice.close()
        await bob.close()


async def test_a_store_at_its_size_cap_refuses_messages(tmp_path: Path) -> None:
    async with serving(tmp_path, max_store_bytes=400_000, min_free_disk=0) as server:
        alice = await Chat.hello(server, "alice")
        squeezed, error = await refused_until_full(alice, "cap", limit=400)
        assert (error.code, error.fatal) == (ErrorCode.STORAGE_FULL, False)
        assert "size limit" in error.detail
        assert squeezed  # it took messages until it got there
        page = await alice.page("#lobby", limit=5)
        assert ids(page.messages) == ids(squeezed)[-5:]
        await alice.close()


@pytest.mark.asyncio(loop_factories=["asyncio"])  # the server is another process
async def test_a_file_size_limit_on_the_server_process_refuses_and_recovers(
    tmp_path: Path,
) -> None:
    """E5 without root: RLIMIT_FSIZE lowered on a running chat-server makes its database
    writes fail with EFBIG (Python ignores SIGXFSZ), then raised again."""
    async with server_process("--data-dir", str(tmp_path), "--msg-rate", "0") as server:
        alice_chat = await Chat.hello(server.address, "alice")
        bob_chat = await Chat.hello(server.address, "bob")
        before = await alice_chat.seed(3)

        process = psutil.Process(server.process.pid)
        soft, hard = process.rlimit(psutil.RLIMIT_FSIZE)
        largest = largest_file(tmp_path)
        process.rlimit(psutil.RLIMIT_FSIZE, (largest + 8192, hard))
        try:
            squeezed, error = await refused_until_full(alice_chat, "big")
            assert (error.code, error.fatal) == (ErrorCode.STORAGE_UNAVAILABLE, False)
            await alice_chat.send(Ping(token="alive"))
            await alice_chat.answer(Pong)
            page = await bob_chat.page("#lobby", limit=50)
            assert ids(page.messages) == ids(before) + ids(squeezed), server.text()[-2000:]
        finally:
            process.rlimit(psutil.RLIMIT_FSIZE, (soft, hard))
        again = await alice_chat.say("small again", client_id=error.client_id)
        assert again.duplicate is False
        relayed = await bob_chat.collect(Message, len(before) + len(squeezed) + 1)
        assert ids(relayed) == [*ids(before), *ids(squeezed), again.id]
        assert process.is_running()
        await alice_chat.close()
        await bob_chat.close()
    assert "Traceback" not in server.text()
    assert (tmp_path / DATABASE_NAME).exists()
