"""Logging refused connections without letting one address flood the log.

A refused connection is worth a line: it is what an operator (or fail2ban) watches for. But one
address hammering a full server was refused some 3,000 times a second, one WARNING line each.
So the first refusal of an address is logged at once, with the address; further refusals of it
within :data:`REPORT_EVERY` seconds are counted and reported in one line when that interval
ends. At most :data:`MAX_TRACKED` addresses are followed at once; refusals beyond them are
counted together, so the bookkeeping cannot grow with the number of attackers either.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Final

#: Seconds over which repeated refusals of one address fold into one line.
REPORT_EVERY: Final = 60.0
#: Addresses whose repeated refusals are counted one by one; the rest share one count.
MAX_TRACKED: Final = 1024


class _Tally:
    __slots__ = ("more", "reasons", "since")

    def __init__(self, since: float) -> None:
        self.since = since
        self.more = 0  # refusals after the one logged at once
        self.reasons: Counter[str] = Counter()


class RefusalLog:
    """Where refusals are reported; :meth:`report` is called now and then (the server's sweep)
    to write out what was folded."""

    def __init__(
        self, log: logging.Logger, *, every: float = REPORT_EVERY, max_tracked: int = MAX_TRACKED
    ) -> None:
        self._log = log
        self._every = every
        self._max_tracked = max_tracked
        self._tallies: dict[str, _Tally] = {}
        self._untracked = 0  # refusals of addresses past MAX_TRACKED, since the last report
        self._untracked_since: float | None = None

    def refused(self, address: str, reason: str, detail: str, now: float) -> None:
        """A connection from ``address`` was refused for ``reason`` (an error code)."""
        tally = self._tallies.get(address)
        if tally is not None:
            tally.more += 1
            tally.reasons[reason] += 1
            return
        if len(self._tallies) >= self._max_tracked:
            if self._untracked_since is None:
                self._untracked_since = now
            self._untracked += 1
            return
        self._tallies[address] = _Tally(now)
        self._log.warning("refuse %s reason=%s: %s", address, reason, detail)

    def report(self, now: float) -> None:
        """Write one line per address whose interval is over and that was refused again in
        it; forget those addresses, so that their next refusal is logged at once again."""
        over = [
            address for address, tally in self._tallies.items() if now - tally.since >= self._every
        ]
        for address in over:
            tally = self._tallies.pop(address)
            if tally.more:
                reasons = ", ".join(f"{reason} x{count}" for reason, count in tally.reasons.items())
                self._log.warning(
                    "refuse %s: %d more refused connections in the last %.0f s (%s)",
                    address,
                    tally.more,
                    now - tally.since,
                    reasons,
                )
        if self._untracked_since is not None and now - self._untracked_since >= self._every:
            self._log.warning(
                "refused %d more connections from other addresses in the last %.0f s "
                "(more than %d addresses were being refused at once)",
                self._untracked,
                now - self._untracked_since,
                self._max_tracked,
            )
            self._untracked = 0
            self._untracked_since = None
