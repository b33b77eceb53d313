"""Durability of a real ``chat-server`` process (catalogue E1, E4; spec 6, 16).

E1: three senders at about 100 messages a second each; ``kill -9`` at a random moment after some
acks; a restart on the same data directory. Every acked ``client_id`` is in the history exactly
once, with the acked id; ids strictly increase, also across restarts; the database passes
``PRAGMA integrity_check``; a resend after the restart is recognised.

E4: SIGTERM while about fifty clients have messages in flight: everyone gets ``bye`` with reason
``shutdown``, every acked message was relayed and is in the history after a restart, nothing
unacked was stored, and the process exits 0 within 5 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import pytest

from tests.support.net import WAIT
from tests.support.process import server_process
from tests.support.rooms import Chat, ids, strictly_increasing
from wirechat_common import Ack, Bye, LeaveReason, Message, Say
from wirechat_common.messages import AnyMessage
from wirechat_server.config import DATABASE_NAME

pytestmark = pytest.mark.timeout(60)

#: Kill -9 rounds on one data directory (the catalogue asks for 20; 3 keep CI time low).
REPETITIONS: Final = 3
SENDERS: Final = 3
#: Per sender: a burst of 5 lines every 50 ms, about 100 a second, so that some are in flight
#: whenever the kill comes.
BURST: Final = 5
SEND_INTERVAL: Final = 0.05
CLIENTS: Final = 50  # for SIGTERM
EXIT_WITHIN: Final = 5.0
SETTINGS: Final = ("--msg-rate", "0", "--log-level", "info")


def read_only(database: Path) -> contextlib.closing[sqlite3.Connection]:
    return contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True))


def on_disk(database: Path) -> tuple[str, list[tuple[int, str, str | None, str]]]:
    """The integrity check and every stored (id, sender, client_id, room), read with a
    connection of the test's own while the server is not running."""
    with read_only(database) as conn:
        check = str(conn.execute("PRAGMA integrity_check").fetchone()[0])
        rows = conn.execute("SELECT id, sender, client_id, room FROM messages ORDER BY id")
        return check, [(int(r[0]), str(r[1]), r[2], str(r[3])) for r in rows.fetchall()]


@dataclass
class Stream:
    """One client saying lines until the connection ends; what it was told, in order."""

    client: Chat
    room: str | None = None
    sent: list[str] = field(default_factory=list)
    acked: dict[str, int] = field(default_factory=dict)
    frames: list[AnyMessage] = field(default_factory=list)
    burst_sent: asyncio.Event = field(default_factory=asyncio.Event)

    async def read(self, progress: asyncio.Condition) -> None:
        with contextlib.suppress(EOFError, ConnectionError):
            while True:
                frame = await self.client.recv(timeout=30)
                self.frames.append(frame)
                if isinstance(frame, Ack) and frame.client_id is not None:
                    self.acked[frame.client_id] = frame.id
                    async with progress:
                        progress.notify_all()

    async def write(self, prefix: str, interval: float, burst: int = 1) -> None:
        """Say ``burst`` lines at once every ``interval`` seconds until the connection ends."""
        n = 0
        with contextlib.suppress(ConnectionError, RuntimeError):
            while True:
                cids = [f"{prefix}-{n + k}" for k in range(burst)]
                self.sent += cids
                await self.client.send(
                    *(Say(text=cid, room=self.room, client_id=cid) for cid in cids)
                )
                n += burst
                self.burst_sent.set()
                await asyncio.sleep(interval)  # pacing, not waiting for anything


async def acks_reach(streams: list[Stream], progress: asyncio.Condition, count: int) -> None:
    async with asyncio.timeout(WAIT), progress:
        await progress.wait_for(lambda: sum(len(s.acked) for s in streams) >= count)


async def test_every_acked_message_survives_kill_9_exactly_once(tmp_path: Path) -> None:
    database = tmp_path / DATABASE_NAME
    rng = random.Random(1)
    acked_before: dict[tuple[str, str], int] = {}  # (sender, client_id) -> id, all rounds
    unacked: dict[str, list[str]] = {}  # sent in the last round, no ack before the kill
    stored: dict[tuple[str, str], int] = {}  # (sender, client_id) -> id, on disk after it
    floor = 0
    sessions: dict[str, str] = {}  # sender -> its session token, kept across restarts
    for run in range(REPETITIONS):
        async with server_process("--data-dir", str(tmp_path), *SETTINGS) as server:
            progress = asyncio.Condition()
            streams = []
            for i in range(SENDERS):
                name = f"sender{i}"
                client = await Chat.hello(server.address, name, session=sessions.get(name))
                if name in sessions:  # sessions are saved, so the restart kept them
                    assert client.session == sessions[name]
                sessions[name] = client.session
                # First what a client resends after a crash: its last acked lines, and those
                # it never got an ack for. Recognised by sender and client_id within the
                # session: a line stored before the kill is a duplicate with its id, whether
                # or not its ack had gone out; one not stored is new.
                resend = [c for n, c in acked_before if n == name][-3:] + unacked.get(name, [])
                for cid in resend:
                    again = await client.say(cid, client_id=cid)
                    if (name, cid) in stored:
                        assert (again.id, again.duplicate) == (stored[name, cid], True), cid
                    else:
                        assert (again.duplicate, again.id > floor) == (False, True), cid
                        acked_before[name, cid] = again.id
                streams.append(Stream(client))
            readers = [asyncio.create_task(s.read(progress)) for s in streams]
            writers = [
                asyncio.create_task(s.write(f"r{run}s{i}", SEND_INTERVAL, BURST))
                for i, s in enumerate(streams)
            ]
            await acks_reach(streams, progress, rng.randint(30, 150))
            # Kill while a burst is in flight: just after one is sent, give or take a commit.
            streams[0].burst_sent.clear()
            async with asyncio.timeout(WAIT):
                await streams[0].burst_sent.wait()
            await asyncio.sleep(rng.uniform(0, 0.003))  # a random moment, not a wait
            server.process.send_signal(signal.SIGKILL)
            assert await server.wait_exit() == -signal.SIGKILL
            await asyncio.gather(*readers)
            for task in writers:
                task.cancel()
            await asyncio.gather(*writers, return_exceptions=True)

        check, rows = on_disk(database)
        assert check == "ok"
        stored = {(sender, cid): id_ for id_, sender, cid, _ in rows if cid is not None}
        assert len(stored) == len([r for r in rows if r[2] is not None])  # each once
        round_ids = []
        for index, stream in enumerate(streams):
            name = f"sender{index}"
            acks = list(stream.acked.items())
            assert acks, f"{name} got no ack before the kill"
            assert strictly_increasing([id_ for _, id_ in acks])
            for cid, id_ in acks:
                acked_before[name, cid] = id_
            unacked[name] = [cid for cid in stream.sent if cid not in stream.acked]
            round_ids += [id_ for _, id_ in acks]
        for (name, cid), id_ in acked_before.items():  # this round's and every earlier one's
            assert stored.get((name, cid)) == id_, f"acked {name} {cid}={id_} lost"
        assert min(round_ids) > floor  # never an id of an earlier round
        floor = max(id_ for id_, *_ in rows)

    # The last restart: the whole history through the protocol, every acked line once.
    async with server_process("--data-dir", str(tmp_path), *SETTINGS) as server:
        reader = await Chat.hello(server.address, "reader")
        history = await reader.everything("#lobby", 200)
        assert strictly_increasing(ids(history))
        by_text: dict[str, list[int]] = {}
        for message in history:
            by_text.setdefault(message.text, []).append(message.id)
        for (name, cid), id_ in acked_before.items():
            assert by_text.get(cid) == [id_], f"{name} {cid}"
        await reader.close()


async def test_sigterm_with_messages_in_flight_loses_no_acked_message(tmp_path: Path) -> None:
    database = tmp_path / DATABASE_NAME
    async with server_process("--data-dir", str(tmp_path), *SETTINGS) as server:
        progress = asyncio.Condition()
        streams = [
            Stream(
                await Chat.hello(server.address, f"c{i}", rooms={f"#pair{i // 2}": 0}),
                room=f"#pair{i // 2}",
            )
            for i in range(CLIENTS)
        ]
        for stream in streams:
            await stream.client.drain()
        readers = [asyncio.create_task(s.read(progress)) for s in streams]
        writers = [asyncio.create_task(s.write(f"c{i}", 0.02)) for i, s in enumerate(streams)]
        await acks_reach(streams, progress, 5 * CLIENTS)
        loop = asyncio.get_running_loop()
        signalled = loop.time()
        server.process.send_signal(signal.SIGTERM)
        status = await server.wait_exit(timeout=EXIT_WITHIN + 1)
        took = loop.time() - signalled
        await asyncio.gather(*readers)
        for task in writers:
            task.cancel()
        await asyncio.gather(*writers, return_exceptions=True)
        assert status == 0, server.text()[-3000:]
        assert took < EXIT_WITHIN

    for i, stream in enumerate(streams):
        assert stream.frames[-1] == Bye(reason=LeaveReason.SHUTDOWN), f"c{i}: {stream.frames[-3:]}"
        assert not [f for f in stream.frames if isinstance(f, Bye)][:-1]
        # Whatever was acked had been relayed to the other of the pair before the bye.
        peer = streams[i ^ 1]
        relayed = {f.id for f in peer.frames if isinstance(f, Message)}
        missing = set(stream.acked.values()) - relayed
        assert not missing, f"c{i}: acked but not relayed to c{i ^ 1}: {sorted(missing)[:5]}"
    acked = {(f"c{i}", cid): id_ for i, s in enumerate(streams) for cid, id_ in s.acked.items()}
    assert len(acked) >= 5 * CLIENTS

    check, rows = on_disk(database)
    assert check == "ok"
    stored = {(sender, cid): id_ for id_, sender, cid, _ in rows if cid is not None}
    assert stored == acked  # every acked one stored; nothing stored that was not acked

    async with server_process("--data-dir", str(tmp_path), *SETTINGS) as server:
        reader = await Chat.hello(server.address, "reader", rooms={})
        found: dict[str, int] = {}
        for pair in range(CLIENTS // 2):
            room = f"#pair{pair}"
            await reader.join(room)
            for message in await reader.everything(room, 200):
                assert message.text not in found
                found[message.text] = message.id
        assert found == {cid: id_ for (_, cid), id_ in acked.items()}
        await reader.close()
