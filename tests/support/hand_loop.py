"""An event loop's scheduling, run by hand: what fan-out and the chat core are given in tests."""

from __future__ import annotations

from collections.abc import Callable


class HandRunLoop:
    """Keeps scheduled callbacks in :attr:`scheduled` (and each delay asked for in
    :attr:`delays`) until the test runs them: a "turn" is what happens between two runs."""

    def __init__(self) -> None:
        self.scheduled: list[Callable[[], None]] = []
        self.delays: list[float] = []

    def call_soon(self, callback: Callable[[], None]) -> None:
        self.delays.append(0.0)
        self.scheduled.append(callback)

    def call_later(self, delay: float, callback: Callable[[], None]) -> None:
        self.delays.append(delay)
        self.scheduled.append(callback)
