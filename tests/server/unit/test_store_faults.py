"""The message store under faults: a slow disk, a failing commit, a full disk, kill -9.

The faults are real wherever possible: a 256 KiB tmpfs that really fills up, ``RLIMIT_FSIZE``,
``SIGKILL`` of a process in the middle of a stream of commits. The ``before_commit`` hook only
slows or fails a commit the way a slow or broken disk would. Catalogue cases: E1 (kill -9), E5
(disk full), E6 (slow storage).
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.support.disks import fill
from tests.support.stores import CHILD, WAIT, healthy, integrity, opened, say, stored
from wirechat_server.storage.sqlite import StoreUnavailable
from wirechat_server.storage.sqlite_writer import SLOW_COMMIT, SLOW_COMMIT_REPORT_EVERY, SlowCommits

pytestmark = pytest.mark.timeout(20)


async def test_slow_storage_never_stalls_the_event_loop(tmp_path: Path) -> None:
    """While a commit is stuck on the disk, the loop keeps running and takes more writes;
    they are stored after it, in order. The commit is held by an event, not a sleep, so a busy
    machine cannot change the outcome."""
    stuck, moving = threading.Event(), threading.Event()

    def slow(size: int) -> None:
        stuck.set()
        moving.wait(2 * WAIT)  # a commit on a dying disk

    async with opened(tmp_path / "m.db", before_commit=slow) as store:
        try:
            futures = [say(store, "a")]
            assert await asyncio.to_thread(stuck.wait, WAIT)
            futures += [say(store, f"b{n}") for n in range(20)]  # during the stuck commit
            ticks = 0
            async with asyncio.timeout(WAIT):
                while ticks < 5:  # the loop's timers fire while the writer is stuck
                    await asyncio.sleep(0.005)
                    ticks += 1
            assert not any(future.done() for future in futures)  # nothing acked unstored
        finally:
            moving.set()
        results = await asyncio.gather(*futures)
        ids = [r.message.id for r in results]
        assert ids == sorted(ids)  # late, but in order
        assert [r.message.text for r in results] == ["a", *(f"b{n}" for n in range(20))]


async def test_slow_commits_are_reported_at_once_and_the_rest_when_the_store_closes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def slow(size: int) -> None:
        time.sleep(SLOW_COMMIT + 0.02)

    caplog.set_level(logging.WARNING, logger="wirechat.store")

    def reports() -> list[str]:
        return [r.getMessage() for r in caplog.records if "slow storage" in r.getMessage()]

    async with opened(tmp_path / "m.db", before_commit=slow) as store:
        await say(store, "first")
        assert len(reports()) == 1
        assert reports()[0].startswith("slow storage: 1 commit(s) over 100 ms")
        await say(store, "second")
        await say(store, "third")
        assert len(reports()) == 1  # within the minute: counted, not logged
    assert len(reports()) == 2
    assert reports()[1].startswith("slow storage: 2 commit(s) over 100 ms")


def test_slow_commits_are_folded_into_one_report_a_minute(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [1000.0]
    slow = SlowCommits(clock=lambda: now[0])
    caplog.set_level(logging.WARNING, logger="wirechat.store")

    def reports() -> list[str]:
        return [r.getMessage() for r in caplog.records]

    slow.note(0.002, 5)  # a healthy commit: nothing
    assert reports() == []
    slow.note(0.25, 5)
    assert len(reports()) == 1
    first = reports()[0]
    assert "1 commit(s) over 100 ms since the last report, the slowest 250 ms (5 rows)" in first
    now[0] += 10
    slow.note(0.5, 3)
    now[0] += 10
    slow.note(0.2, 2)
    assert len(reports()) == 1  # within the minute: counted, not logged
    now[0] += SLOW_COMMIT_REPORT_EVERY
    slow.note(0.001, 7)  # the disk is fine again: what was counted is reported now
    assert len(reports()) == 2
    second = reports()[1]
    assert "2 commit(s) over 100 ms since the last report, the slowest 500 ms (3 rows)" in second
    now[0] += SLOW_COMMIT_REPORT_EVERY
    slow.note(0.001, 1)
    slow.report()
    assert len(reports()) == 2  # nothing new to report


async def test_a_failed_commit_fails_its_batch_stores_nothing_and_the_next_succeeds(
    tmp_path: Path,
) -> None:
    failures = [sqlite3.OperationalError("database or disk is full")]

    def failing_once(size: int) -> None:
        if failures:
            raise failures.pop()

    async with opened(tmp_path / "m.db", before_commit=failing_once) as store:
        batch = [say(store, f"m{n}", client_id=f"c{n}") for n in range(5)]
        outcomes = await asyncio.gather(*batch, return_exceptions=True)
        assert all(isinstance(o, StoreUnavailable) for o in outcomes)
        assert isinstance(outcomes[0], StoreUnavailable)
        assert isinstance(outcomes[0].__cause__, sqlite3.OperationalError)
        assert not healthy(store)
        assert await store.recent("#a", 10) == []
        # The resend after the error is stored normally: the failed batch left no trace.
        retried = await asyncio.gather(*(say(store, f"m{n}", client_id=f"c{n}") for n in range(5)))
        assert healthy(store)
        assert not any(r.duplicate for r in retried)
        assert [r.message.id for r in retried] == [1, 2, 3, 4, 5]


def beyond_wal(db: Path) -> str:
    """A text too big for the room the WAL file already holds.

    Once the checkpoint thread has copied every frame back, the next commit restarts the WAL
    at its start and writes into space the file already has: a small message then fits on a
    full disk. A text bigger than the whole WAL needs new space, whenever the checkpoint ran.
    """
    wal = db.with_name(db.name + "-wal")
    return "x" * (wal.stat().st_size + 16 * 1024)


async def test_a_full_disk_refuses_messages_and_recovers_when_space_returns(
    small_disk: Path,
) -> None:
    db = small_disk / "m.db"
    async with opened(db) as store:
        before = [await say(store, f"before {n}", client_id=f"b{n}") for n in range(5)]
        filler = fill(small_disk)
        refused = [say(store, beyond_wal(db), client_id=f"full{n}") for n in range(8)]
        outcomes = await asyncio.gather(*refused, return_exceptions=True)
        assert all(isinstance(o, StoreUnavailable) for o in outcomes), outcomes
        assert not healthy(store)
        # Still up and still readable; nothing of the refused batch is visible.
        assert [m.id for m in await store.recent("#a", 50)] == [r.message.id for r in before]
        # Still full: refused again, the store keeps serving.
        with pytest.raises(StoreUnavailable):
            await say(store, beyond_wal(db))
        filler.unlink()
        after = await asyncio.gather(
            *(say(store, "y" * 2000, client_id=f"full{n}") for n in range(8))
        )
        assert healthy(store)
        assert not any(r.duplicate for r in after)
        assert after[0].message.id == before[-1].message.id + 1
    assert integrity(db) == "ok"
    assert [row[3] for row in stored(db)] == [f"b{n}" for n in range(5)] + [
        f"full{n}" for n in range(8)
    ]


def test_a_file_size_limit_refuses_messages_and_recovers(tmp_path: Path) -> None:
    # The same fault without root: RLIMIT_FSIZE makes writes past a size fail with EFBIG. It
    # applies to the whole process, hence a child of its own.
    db = tmp_path / "m.db"
    done = subprocess.run(
        [sys.executable, str(CHILD), "fsize", str(db)],
        capture_output=True,
        text=True,
        timeout=WAIT,
        check=True,
    )
    report = json.loads(done.stdout)
    assert report["errors"] == ["StoreUnavailable"] * 4
    assert report["stored_from_refused_batch"] == 0
    assert report["available_after_failure"] is False
    assert report["read_during_failure"] == report["before"] == [1, 2, 3, 4, 5]
    assert report["after"] == 6
    assert report["available_after_recovery"] is True
    assert report["integrity"] == "ok"
    assert [cid for _, cid in report["stored"]] == [None] * 5 + ["after"]
    assert "cannot store messages" in done.stderr  # logged once, as it happened


# -- kill -9 -------------------------------------------------------------------------------


def run_until_killed(
    db: Path, run: int, loop: str, sync: str, acks_wanted: int, resend: int
) -> tuple[list[tuple[int, str]], list[str]]:
    """Start the child, let it ack ``acks_wanted`` messages, SIGKILL it mid-stream."""
    child = subprocess.Popen(
        [sys.executable, str(CHILD), "stream", str(db), str(run), loop, sync, str(resend)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    acks: list[tuple[int, str]] = []
    before_ready: list[str] = []
    try:
        for line in child.stdout:
            if line.startswith("ack "):
                _, id_, cid = line.split()
                acks.append((int(id_), cid))
                if len(acks) >= acks_wanted:
                    break
            elif line != "ready\n":
                before_ready.append(line.strip())
        child.send_signal(signal.SIGKILL)
        # Whatever it printed before it died was acknowledged too.
        for line in child.stdout:
            if line.startswith("ack "):
                _, id_, cid = line.split()
                acks.append((int(id_), cid))
    finally:
        child.kill()
        child.wait(WAIT)
    assert child.returncode == -signal.SIGKILL
    return acks, before_ready


@pytest.mark.parametrize(("loop", "sync"), [("uvloop", "FULL"), ("asyncio", "NORMAL")])
def test_every_acked_message_survives_kill_9_exactly_once(
    tmp_path: Path, loop: str, sync: str
) -> None:
    db = tmp_path / "m.db"
    rng = random.Random(f"{loop}-{sync}")
    previous: dict[str, int] = {}
    floor = 0
    for run in range(3):
        acks, resent = run_until_killed(
            db, run, loop, sync, rng.randint(100, 2000), resend=30 if run else 0
        )
        assert acks, "the child acked nothing"
        ids = [id_ for id_, _ in acks]
        assert ids == sorted(set(ids))  # acked in strictly increasing order
        assert ids[0] > floor  # ids keep increasing across restarts
        # The resends after the crash: what had been acked comes back as the same message.
        assert len(resent) == (30 if run else 0)
        for line in resent:
            tag, resent_id, cid = line.split()
            # Every resend was acked before the kill (the kill came after 100 or more acks).
            assert (tag, int(resent_id)) == ("dup", previous[cid])
        assert integrity(db) == "ok"
        rows = stored(db, "SELECT id, client_id FROM messages")
        on_disk = {cid: id_ for id_, cid in rows}
        assert len(on_disk) == len(rows)  # each client id stored once
        for id_, cid in acks:
            assert on_disk.get(cid) == id_, f"acked {cid}={id_} lost"
        previous = {cid: id_ for id_, cid in acks}
        floor = max(id_ for id_, _ in rows)
