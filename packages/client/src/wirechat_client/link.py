"""The link's small vocabulary: when to retry, and what went wrong, in words a user can act on.

Kept apart from :mod:`.net` (which runs the session) and free of Textual like it.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from wirechat_common import LeaveReason

from .address import Address

_LEAVE_WORDS: Final[dict[str, str]] = {
    LeaveReason.SHUTDOWN: "the server is shutting down",
    LeaveReason.QUIT: "you left",
    LeaveReason.TIMEOUT: "the server timed us out",
    LeaveReason.TOO_SLOW: "we were too slow to keep up",
    LeaveReason.FLOOD: "the server cut us off for flooding",
    LeaveReason.KICKED: "the server kicked us",
    LeaveReason.DROPPED: "the connection dropped",
}


@dataclass(frozen=True, slots=True)
class Backoff:
    """Delays between reconnection attempts: exponential, capped, with jitter.

    Attempt ``n`` waits ``min(maximum, initial * 2**n)`` shortened by up to ``jitter`` of itself
    at random, so that a crowd of clients dropped by one server restart does not come back in
    lock-step.
    """

    initial: float = 0.5
    maximum: float = 30.0
    jitter: float = 0.5

    def delay(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        base = min(self.maximum, self.initial * 2.0 ** min(attempt, 32))
        return base * (1.0 - self.jitter * rand())


class LinkLostError(Exception):
    """The current TCP connection is over; ``reason`` says why, ``code`` if the server said."""

    def __init__(self, reason: str, code: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


def farewell(reason: str | None) -> str:
    if not reason:
        return "the server said goodbye"
    return _LEAVE_WORDS.get(reason, f"the server said goodbye ({reason})")


def describe_os_error(error: OSError, address: Address) -> str:
    """A sentence a user can act on, for a failure to connect."""
    if isinstance(error, ConnectionRefusedError):
        return f"nothing is listening on {address} (is the server running?)"
    if isinstance(error, TimeoutError):
        return f"no answer from {address}"
    if error.strerror:
        return f"cannot reach {address}: {error.strerror}"
    return f"cannot reach {address}: {error}"
