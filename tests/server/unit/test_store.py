"""The message store: ids, group commit, idempotency, history, retention, back-pressure, lifecycle.

Real SQLite files in ``tmp_path``, real threads, a real event loop (both loops, see conftest).
Catalogue cases: E2/E3 (idempotent resend, first wins), E6 (a full write queue answers busy);
faults (E1, E5, E6 slow storage) are in ``test_store_faults.py``.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from tests.support.stores import WAIT, opened, say, stored
from wirechat_server.storage import sqlite_sql
from wirechat_server.storage.lock import StoreInUse
from wirechat_server.storage.sqlite import (
    AppendResult,
    MessageStore,
    PageQuery,
    StoreBusy,
    StoreClosed,
    StoreError,
    dm_members,
    dm_room,
)

pytestmark = pytest.mark.timeout(20)


# -- ids, group commit, order --------------------------------------------------------------


async def test_ids_strictly_increase_and_continue_after_a_restart(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    async with opened(db) as store:
        first = [await say(store, f"one by one {n}") for n in range(3)]
        burst = await asyncio.gather(*(say(store, f"burst {n}", room="#b") for n in range(50)))
        assert store.last_id == burst[-1].message.id
    ids = [r.message.id for r in [*first, *burst]]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert all(not r.duplicate for r in [*first, *burst])
    assert [row[0] for row in stored(db)] == ids
    async with opened(db) as store:
        assert store.last_id == ids[-1]
        again = await say(store, "after the restart")
        assert again.message.id > ids[-1]
        assert stored(db, "PRAGMA journal_mode") == [("wal",)]


async def test_one_turn_is_one_commit_and_resolves_at_once_in_id_order(tmp_path: Path) -> None:
    batches: list[int] = []
    async with opened(tmp_path / "m.db", before_commit=batches.append) as store:
        futures = [say(store, f"m{n}", room=f"#r{n % 4}") for n in range(300)]
        order: list[int] = []
        for future in futures:
            future.add_done_callback(lambda f: order.append(f.result().message.id))
        await futures[0]
        # One batch, settled by one callback: when the first is done, all are.
        assert all(future.done() for future in futures)
        assert batches == [300]
        await asyncio.sleep(0)  # done-callbacks run in the next turn
        assert order == sorted(order) == [f.result().message.id for f in futures]
        assert order == list(range(order[0], order[0] + 300))


async def test_submissions_piling_up_during_a_commit_become_the_next_batch(tmp_path: Path) -> None:
    entered, gate = threading.Event(), threading.Event()
    batches: list[int] = []

    def slow_first_commit(size: int) -> None:
        batches.append(size)
        entered.set()
        gate.wait(WAIT)

    async with opened(tmp_path / "m.db", before_commit=slow_first_commit) as store:
        first = say(store, "first")
        assert await asyncio.to_thread(entered.wait, WAIT)
        later = []
        for turn in range(5):  # five loop turns while the disk is busy
            later += [say(store, f"t{turn} m{n}") for n in range(10)]
            await asyncio.sleep(0)
        gate.set()
        results = await asyncio.gather(first, *later)
        assert batches == [1, 50]
        ids = [r.message.id for r in results]
        assert ids == list(range(ids[0], ids[0] + 51))


# -- idempotency ---------------------------------------------------------------------------


async def test_a_resent_client_id_returns_the_original_first_wins(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    async with opened(db) as store:
        original = await say(store, "hello", client_id="c1")
        resent = await say(store, "hello again, edited", room="#b", client_id="c1")
        assert resent == AppendResult(original.message, duplicate=True)
        assert resent.message.text == "hello"
        assert resent.message.room == "#a"
        # The same client id from someone else is another message.
        other = await say(store, "hi", sender="Bob", client_id="c1")
        assert not other.duplicate
        assert other.message.id > original.message.id
        # Twice in one batch: the first is stored, the second answered with it.
        twice = await asyncio.gather(
            say(store, "x", client_id="c2"), say(store, "y", client_id="c2")
        )
        assert [r.duplicate for r in twice] == [False, True]
        assert twice[1].message == twice[0].message
        # No client id: never deduplicated.
        plain = await asyncio.gather(say(store, "same"), say(store, "same"))
        assert plain[0].message.id != plain[1].message.id
    async with opened(db) as store:  # and after a restart
        after = await say(store, "late resend", sender="ALICE", client_id="c1")
        assert after.duplicate
        assert after.message == original.message
    assert [row[3] for row in stored(db)] == ["c1", "c1", "c2", None, None]


async def test_a_client_id_is_reusable_after_the_window(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    async with opened(db, idempotency_window_s=10) as store:
        first = await say(store, "one", client_id="c", ts=1_000_000)
        inside = await say(store, "two", client_id="c", ts=1_000_000 + 10_000)
        assert inside.duplicate
        assert inside.message == first.message
        reused = await say(store, "three", client_id="c", ts=1_000_000 + 10_001)
        assert not reused.duplicate
        assert reused.message.text == "three"
        resent = await say(store, "four", client_id="c", ts=1_000_000 + 15_000)
        assert resent.duplicate
        assert resent.message == reused.message
    assert [(row[2], row[3]) for row in stored(db)] == [("one", None), ("three", "c")]


# -- history -------------------------------------------------------------------------------


async def test_history_pages_back_and_forward_per_room(tmp_path: Path) -> None:
    async with opened(tmp_path / "m.db", max_history=5) as store:
        results = await asyncio.gather(
            *(say(store, f"m{n}", room="#a" if n % 3 else "#b") for n in range(30))
        )
        a_ids = [r.message.id for r in results if r.message.room == "#a"]
        recent = await store.recent("#a", 5)
        assert [m.id for m in recent] == a_ids[-5:]
        assert recent[-1] == results[29].message
        # Paging back from the newest reaches the first, five at a time, each page ascending.
        seen: list[int] = []
        page = recent
        while page:
            seen = [m.id for m in page] + seen
            page = await store.before("#a", page[0].id, 5)
        assert seen == a_ids
        # Forward from any id: what came after it, the earliest first.
        assert [m.id for m in await store.after("#a", a_ids[3], 5)] == a_ids[4:9]
        assert await store.after("#a", a_ids[-1], 5) == []
        assert await store.recent("#nowhere", 5) == []
        assert await store.recent("#a", 0) == []
        for bad in (6, -1):
            with pytest.raises(ValueError, match="limit"):
                await store.recent("#a", bad)
            with pytest.raises(ValueError, match="limit"):
                await store.after("#a", 0, bad)


def test_direct_message_keys_are_canonical() -> None:
    assert dm_room("bob", "alice") == dm_room("alice", "bob") == "@alice:bob"
    assert dm_members("@alice:bob") == ("alice", "bob")
    assert dm_members("#general") is None
    for bad in ("", "a:b", "@a"):
        with pytest.raises(ValueError, match="name key"):
            dm_room(bad, "bob")


async def test_direct_messages_are_a_conversation_of_their_own(tmp_path: Path) -> None:
    async with opened(tmp_path / "m.db") as store:
        to_bob = await say(store, "hi bob", room=dm_room("alice", "bob"))
        to_alice = await say(store, "hi alice", room=dm_room("bob", "alice"), sender="Bob")
        await say(store, "hi carol", room=dm_room("alice", "carol"))
        history = await store.recent("@alice:bob", 10)
        assert history == [to_bob.message, to_alice.message]


# -- back-pressure --------------------------------------------------------------------------


async def test_a_full_queue_refuses_at_once_and_uncommitted_work_stays_invisible(
    tmp_path: Path,
) -> None:
    entered, gate = threading.Event(), threading.Event()

    def blocked_commit(size: int) -> None:
        entered.set()
        gate.wait(WAIT)

    async with opened(tmp_path / "m.db", max_pending=10, before_commit=blocked_commit) as store:
        first = say(store, "first")
        assert await asyncio.to_thread(entered.wait, WAIT)  # inside its transaction, not committed
        more = [say(store, f"m{n}") for n in range(9)]
        assert store.pending == 10
        with pytest.raises(StoreBusy):
            say(store, "one too many")
        # Reads run beside the open write transaction and see only committed messages.
        assert await store.recent("#a", 10) == []
        gate.set()
        results = await asyncio.gather(first, *more)
        assert [m.id for m in await store.recent("#a", 10)] == [r.message.id for r in results]
        assert store.pending == 0
        assert not (await say(store, "room again")).duplicate


# -- retention -----------------------------------------------------------------------------


async def test_retention_by_count_and_age_in_small_steps(tmp_path: Path) -> None:
    now = int(time.time() * 1000)
    hour = 3_600_000
    async with opened(tmp_path / "m.db", retention_chunk=3) as store:
        a = [await say(store, f"a{n}", ts=now - 2 * hour + n) for n in range(10)]
        b = [await say(store, f"b{n}", room="#b", ts=now - 2 * hour) for n in range(2)]
        dm = [await say(store, f"d{n}", room="@alice:bob", ts=now) for n in range(7)]
        assert await store.apply_retention(None, 4) == 6 + 3
        assert [m.id for m in await store.recent("#a", 20)] == [r.message.id for r in a[-4:]]
        assert [m.id for m in await store.recent("#b", 20)] == [r.message.id for r in b]
        assert [m.id for m in await store.recent("@alice:bob", 20)] == [
            r.message.id for r in dm[-4:]
        ]
        assert await store.apply_retention(3600, None) == 4 + 2
        assert await store.recent("#a", 20) == await store.recent("#b", 20) == []
        assert len(await store.recent("@alice:bob", 20)) == 4
        assert await store.apply_retention(None, None) == 0
        with pytest.raises(ValueError, match="negative"):
            await store.apply_retention(-1, None)


async def test_retention_lets_messages_through_between_its_steps(tmp_path: Path) -> None:
    async with opened(tmp_path / "m.db", retention_chunk=3) as store:
        await asyncio.gather(*(say(store, f"old {n}", room=f"#r{n % 7}") for n in range(3000)))
        retention = asyncio.ensure_future(store.apply_retention(None, 1))
        await asyncio.sleep(0)  # the writer starts on it
        message = await say(store, "meanwhile", room="#new")
        # A thousand steps (one commit each) to go: the message waited for one at most.
        assert not retention.done()
        assert await retention == 3000 - 7
        assert await store.recent("#new", 5) == [message.message]


async def test_ids_are_never_reused_even_when_retention_removes_everything(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    async with opened(db) as store:
        last = (await asyncio.gather(*(say(store, f"m{n}") for n in range(20))))[-1]
        assert await store.apply_retention(None, 0) == 20
    assert stored(db) == []
    async with opened(db) as store:
        assert store.last_id == last.message.id
        assert (await say(store, "next")).message.id == last.message.id + 1


# -- lifecycle -----------------------------------------------------------------------------


async def test_close_commits_what_was_submitted_and_refuses_what_comes_after(
    tmp_path: Path,
) -> None:
    db = tmp_path / "m.db"
    store = MessageStore(db)
    await store.start()
    futures = [say(store, f"m{n}") for n in range(100)]
    await asyncio.gather(store.close(), store.close())  # twice at once: both wait for the end
    assert all(future.done() and not future.exception() for future in futures)
    await store.close()
    with pytest.raises(StoreClosed):
        say(store, "too late")
    with pytest.raises(StoreClosed):
        await store.recent("#a", 10)
    with pytest.raises(StoreClosed):
        await store.apply_retention(None, 0)
    assert len(stored(db)) == 100


async def test_without_a_path_the_store_is_temporary(tmp_path: Path) -> None:
    async with opened(None) as store:
        path = store.path
        assert (await say(store, "ephemeral")).message.id == 1
        assert path.exists()
    assert not path.parent.exists()


async def test_a_file_that_is_not_a_compatible_store_is_refused(tmp_path: Path) -> None:
    foreign = tmp_path / "foreign.db"
    conn = sqlite3.connect(foreign)
    conn.execute("CREATE TABLE notes (x)")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="not a wirechat message store"):
        await MessageStore(foreign).start()
    newer = tmp_path / "newer.db"
    async with opened(newer) as store:
        await say(store, "hi")
    conn = sqlite3.connect(newer)
    conn.execute("UPDATE meta SET value = 99 WHERE key = 'schema_version'")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="schema version 99"):
        await MessageStore(newer).start()


async def test_a_version_1_store_is_upgraded_in_place_and_keeps_its_messages(
    tmp_path: Path,
) -> None:
    path = tmp_path / "v1.db"
    conn = sqlite3.connect(path)
    for statement in sqlite_sql._SCHEMA_V1:  # exactly what version 1 created
        conn.execute(statement)
    conn.execute("INSERT INTO messages VALUES (7, 1000, '#lobby', 'Ann', 'ann', 'old', 0, 'c-7')")
    conn.execute("INSERT INTO messages VALUES (6, 900, '@ann:bo', 'Bo', 'bo', 'psst', 0, NULL)")
    conn.execute("UPDATE meta SET value = 7 WHERE key = 'last_id'")
    conn.commit()
    conn.close()
    async with opened(path) as store:
        assert store.last_id == 7
        assert [m.text for m in await store.recent("#lobby", 10)] == ["old"]
        store.save_session(("ann", "Ann", b"h" * 32, 7, 2000), expire_before_ms=0)
        assert (await say(store, "new")).message.id == 8
        assert await store.load_sessions(0, 10) == [("ann", "Ann", b"h" * 32, 7, 2000)]
        # Direct messages stored by version 1 are found as each party's.
        for key in ("ann", "bo"):
            (page,) = await store.pages([PageQuery("@", 0, 100, 10, True, dm_of=key)])
            assert [m.text for m in page] == ["psst"]
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == (2,)
    conn.close()


async def test_a_second_store_on_the_same_database_is_refused_until_the_first_closes(
    tmp_path: Path,
) -> None:
    first = MessageStore(tmp_path / "messages.db")
    await first.start()
    second = MessageStore(tmp_path / "messages.db")
    with pytest.raises(
        StoreInUse, match=rf"in use by another wirechat server \(process {os.getpid()}\)"
    ):
        await second.start()
    await first.close()
    async with MessageStore(tmp_path / "messages.db") as third:
        assert third.last_id == first.last_id
