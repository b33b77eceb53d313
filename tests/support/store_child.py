"""A message store in a process of its own, for the tests that kill it or starve it of disk.

``python store_child.py stream DB RUN LOOP SYNC [RESEND]`` first resends the client ids
``r{RUN-1}-0`` .. ``r{RUN-1}-{RESEND-1}`` (a client reconnecting after the crash) and prints one
``dup ID CID`` or ``new ID CID`` line each, then ``ready``; then it submits messages from three
senders to three rooms as fast as the store takes them, and prints ``ack ID CID`` the moment each
future resolves, until it is killed.

``python store_child.py fsize DB`` stores a few messages, lowers ``RLIMIT_FSIZE`` until commits
fail with EFBIG, raises it again, and prints a JSON report of what it saw.

Run by ``tests/server/unit/test_store.py``; each line is flushed at once, so what the parent
reads is exactly what had been acknowledged when the process died.
"""

from __future__ import annotations

import asyncio
import json
import resource
import signal
import sqlite3
import sys
from pathlib import Path

import uvloop

from wirechat_server.storage.sqlite import AppendResult, MessageStore

ROOMS = ("#a", "#b", "@alice:bob")
SENDERS = ("alice", "bob", "carol")
PER_TURN = 20  # submissions per loop turn: several turns end up in one commit
MAX_IN_FLIGHT = 400


def emit(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def stream(db: Path, run: int, synchronous: str, resend: int) -> None:
    store = MessageStore(db, synchronous="FULL" if synchronous == "FULL" else "NORMAL")
    await store.start()
    # The same sender and client id as before the crash (the text may differ: first wins).
    again = [
        store.submit(
            ROOMS[n % 3], SENDERS[n % 3], SENDERS[n % 3], "resent", client_id=f"r{run - 1}-{n}"
        )
        for n in range(resend)
    ]
    for future in again:
        result = await future
        tag = "dup" if result.duplicate else "new"
        emit(f"{tag} {result.message.id} {result.message.client_id}")
    emit("ready")

    def on_ack(future: asyncio.Future[AppendResult]) -> None:
        message = future.result().message
        emit(f"ack {message.id} {message.client_id}")

    n = 0
    while True:
        last = None
        for _ in range(PER_TURN):
            sender = SENDERS[n % 3]
            last = store.submit(
                ROOMS[n % 3], sender, sender, f"message {n}", client_id=f"r{run}-{n}"
            )
            last.add_done_callback(on_ack)
            n += 1
        if store.pending > MAX_IN_FLIGHT and last is not None:
            await last
        else:
            await asyncio.sleep(0)


async def fsize(db: Path) -> None:
    report: dict[str, object] = {}
    store = MessageStore(db)
    await store.start()
    before = [await store.submit("#a", "alice", "alice", f"before {n}") for n in range(5)]
    report["before"] = [result.message.id for result in before]
    # Past the limit a write fails with EFBIG instead of killing us with SIGXFSZ.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    largest = max(path.stat().st_size for path in db.parent.iterdir())
    resource.setrlimit(resource.RLIMIT_FSIZE, (largest + 8192, hard))
    errors: list[str] = []
    for attempt in range(50):
        cids = [f"big-{attempt}-{n}" for n in range(4)]
        batch = [store.submit("#a", "alice", "alice", "x" * 3000, client_id=cid) for cid in cids]
        outcomes = await asyncio.gather(*batch, return_exceptions=True)
        errors = [type(o).__name__ for o in outcomes if isinstance(o, BaseException)]
        if errors:
            report["refused"] = cids
            report["stored_from_refused_batch"] = sum(isinstance(o, AppendResult) for o in outcomes)
            report["available_after_failure"] = store.available
            break
    report["errors"] = errors
    report["read_during_failure"] = [m.id for m in await store.recent("#a", 10)]
    resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    after = await store.submit("#a", "alice", "alice", "after", client_id="after")
    report["after"] = after.message.id
    report["available_after_recovery"] = store.available
    await store.close()
    with sqlite3.connect(db) as conn:
        report["integrity"] = conn.execute("PRAGMA integrity_check").fetchone()[0]
        rows = conn.execute("SELECT id, client_id FROM messages ORDER BY id").fetchall()
        report["stored"] = [[id_, cid] for id_, cid in rows]
    conn.close()
    emit(json.dumps(report))


def main(argv: list[str]) -> None:
    mode, db = argv[0], Path(argv[1])
    if mode == "stream":
        run, loop, synchronous = int(argv[2]), argv[3], argv[4]
        resend = int(argv[5]) if len(argv) > 5 else 0
        coroutine = stream(db, run, synchronous, resend)
        if loop == "uvloop":
            uvloop.run(coroutine)
        else:
            asyncio.run(coroutine)
    elif mode == "fsize":
        asyncio.run(fsize(db))
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
