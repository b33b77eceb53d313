"""The request rate limit: a token bucket that says "now", "in t seconds" or "too far behind".

Flood control delays first and cuts only second (Ergo's fakelag, InspIRCd's penalties): a client
past its burst is made to wait, which the connection does by not reading its socket, so TCP pushes
back on the sender; only a client whose queued requests would take longer than ``backlog``
seconds to serve is cut off. The clock is passed in, so the arithmetic is tested without sleeping.
"""

from __future__ import annotations


class TokenBucket:
    """``burst`` requests at once, then ``rate`` per second. A ``rate`` of 0 means no limit."""

    # Weakly referable: a user's bucket lives as long as a connection of the user uses it.
    __slots__ = ("__weakref__", "_backlog", "_burst", "_rate", "_tokens", "_updated")

    def __init__(self, burst: int, rate: float, backlog: float, now: float) -> None:
        self._burst = float(burst)
        self._rate = rate
        self._backlog = backlog
        self._tokens = float(burst)
        self._updated = now

    def take(self, now: float) -> bool:
        """Spend one token if there is one; ``False`` means the request must wait."""
        if self._rate <= 0:
            return True
        tokens = min(self._burst, self._tokens + (now - self._updated) * self._rate)
        self._updated = now
        if tokens >= 1.0:
            self._tokens = tokens - 1.0
            return True
        self._tokens = tokens
        return False

    def wait(self) -> float:
        """Seconds until the next token, after a :meth:`take` that returned ``False``."""
        return (1.0 - self._tokens) / self._rate

    def too_far_behind(self, queued: int) -> bool:
        """Whether ``queued`` waiting requests would take longer than the backlog to serve."""
        return queued / self._rate > self._backlog
