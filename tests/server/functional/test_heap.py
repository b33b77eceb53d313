"""Returning freed heap memory to the system (glibc's malloc_trim), on this machine's libc."""

from __future__ import annotations

import asyncio
import os

import pytest

from tests.support.net import WAIT, NativeClient, running_server
from wirechat_server.heap import HeapTrimmer

PAGE = os.sysconf("SC_PAGE_SIZE")
BIG = 100_000  # below glibc's mmap threshold: from the heap, like a registration answer
needs_glibc = pytest.mark.skipif(not HeapTrimmer().available, reason="no malloc_trim here")


def _resident_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE


@needs_glibc
def test_a_trim_gives_back_the_holes_that_freed_buffers_left() -> None:
    trimmer = HeapTrimmer(after_changes=1)
    # Short-lived buffers with long-lived ones between them, as a wave of registrations leaves
    # them; the same size, so each comes from the top of the heap, right after the one before.
    # Freeing the short-lived ones leaves holes below the top, which free() does not give back.
    big: list[bytes] = []
    pins: list[bytes] = []
    for _ in range(300):
        big.append(b"x" * BIG)  # written, so resident
        pins.append(b"p" * BIG)
    del big
    before = _resident_bytes()

    assert trimmer.maybe_trim() is None  # nothing changed yet: not worth a walk of the heap
    trimmer.note_change()
    took = trimmer.maybe_trim()

    assert took is not None
    released = before - _resident_bytes()
    assert released > 300 * BIG // 2, f"only {released} bytes went back"
    assert pins  # kept alive until here


class _Observed(HeapTrimmer):
    __slots__ = ("trimmed",)

    def __init__(self, after_changes: int) -> None:
        super().__init__(after_changes)
        self.trimmed = asyncio.Event()

    def maybe_trim(self) -> float | None:
        took = super().maybe_trim()
        if took is not None:
            self.trimmed.set()
        return took


@needs_glibc
async def test_the_server_trims_once_connections_have_come_and_gone() -> None:
    async with running_server() as server:
        observed = server.heap = _Observed(after_changes=4)
        clients = [await NativeClient.connect(server, f"visitor{index}") for index in range(2)]
        assert not observed.trimmed.is_set()  # two arrivals: below the threshold
        for client in clients:
            await client.close()

        async with asyncio.timeout(WAIT):  # the sweep notices within a second
            await observed.trimmed.wait()
