"""Who may open a connection: the global cap, and per-address caps on concurrency and rate.

Checked before any session state exists, so a flood of connections from one address costs a
dictionary entry and a refusal line each, nothing more. Addresses are counted by origin, their
prefix (:mod:`.addresses`); the exempt ones (loopback by default, as in Ergo) are not counted:
the rest of ``127.0.0.0/8`` is not exempt, which lets tests play remote addresses.
"""

from __future__ import annotations

from dataclasses import dataclass

from wirechat_common import ErrorCode

from .config import ServerConfig


@dataclass(slots=True)
class _Address:
    connections: int
    tokens: float  # connection attempts still allowed now (a token bucket)
    updated: float


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a connection was turned away, as a code and a line for the client."""

    code: ErrorCode
    detail: str


class Admission:
    """Counts live connections, in all and per address, and rations new ones."""

    def __init__(self, config: ServerConfig) -> None:
        self._config = config
        #: How addresses are grouped into the origins the caps count (shared with the server).
        self.origins = config.origins
        self._total = 0
        self._by_address: dict[str, _Address] = {}

    @property
    def total(self) -> int:
        return self._total

    def admit(self, address: str, now: float) -> Refusal | None:
        """Count a new connection from ``address``, or say why it is refused."""
        address = self.origins.of(address)
        config = self._config
        if self._total >= config.max_connections:
            return Refusal(
                ErrorCode.SERVER_FULL,
                f"the server is full ({config.max_connections} connections); try again later",
            )
        if address:  # not exempt
            entry = self._by_address.get(address)
            if entry is None:
                entry = self._by_address[address] = _Address(0, config.connect_rate_per_ip, now)
            self._refill(entry, now)
            if entry.connections >= config.max_connections_per_ip:
                return Refusal(
                    ErrorCode.TOO_MANY_CONNECTIONS,
                    f"too many connections from your address (at most "
                    f"{config.max_connections_per_ip} at once)",
                )
            if entry.tokens < 1.0:
                return Refusal(
                    ErrorCode.TOO_MANY_CONNECTIONS,
                    "your address is connecting too often; wait a minute",
                )
            entry.tokens -= 1.0
            entry.connections += 1
        self._total += 1
        return None

    def release(self, address: str) -> None:
        """A connection admitted from ``address`` has ended."""
        self._total -= 1
        entry = self._by_address.get(self.origins.of(address))
        if entry is not None:
            entry.connections -= 1

    def prune(self, now: float) -> None:
        """Forget addresses with no connection and a full allowance: they cost memory only."""
        burst = self._config.connect_rate_per_ip
        for address in [
            address
            for address, entry in self._by_address.items()
            if entry.connections == 0 and self._refill(entry, now) >= burst
        ]:
            del self._by_address[address]

    def _refill(self, entry: _Address, now: float) -> float:
        rate = self._config.connect_rate_per_ip / 60.0
        entry.tokens = min(
            float(self._config.connect_rate_per_ip), entry.tokens + (now - entry.updated) * rate
        )
        entry.updated = now
        return entry.tokens

    def tracked_addresses(self) -> int:
        """How many addresses are remembered (for tests: the table must not grow forever)."""
        return len(self._by_address)
