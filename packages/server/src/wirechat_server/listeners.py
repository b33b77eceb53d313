"""Where the server listens: the ``listen`` setting's addresses, each with the dialects it serves.

The server always listens on ``host``:``port`` for every dialect; ``listen`` adds more
listeners, comma-separated, each ``HOST:PORT`` (an IPv6 host in brackets: ``[::1]:5001``),
optionally followed by ``=`` and the dialects it serves joined by ``+`` (``127.0.0.1:6000=plain``,
``[::]:5002=native+plain``). A connection to a listener that does not serve the dialect it opens
with is refused with one line.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ListenerSpec:
    """One address to listen on, and which dialects it serves (``None``: all of them)."""

    host: str
    port: int
    dialects: frozenset[str] | None = None

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        served = "=" + "+".join(sorted(self.dialects)) if self.dialects is not None else ""
        return f"{host}:{self.port}{served}"


def parse_listeners(text: str) -> list[ListenerSpec]:
    """The listeners ``text`` lists (see the module docstring); ``ValueError`` says what is
    wrong with an entry."""
    specs: list[ListenerSpec] = []
    for entry in (part.strip() for part in text.split(",")):
        if not entry:
            continue
        address, equals, served = entry.partition("=")
        dialects: frozenset[str] | None = None
        if equals:
            dialects = frozenset(name.strip() for name in served.split("+") if name.strip())
            if not dialects:
                raise ValueError(f"listener {entry!r}: no dialect after '='")
        if address.startswith("["):
            host, bracket, rest = address[1:].partition("]")
            if not bracket or not rest.startswith(":"):
                raise ValueError(f"listener {entry!r}: write an IPv6 address as [ADDR]:PORT")
            port_text = rest[1:]
        else:
            host, colon, port_text = address.rpartition(":")
            if not colon or ":" in host:
                raise ValueError(f"listener {entry!r}: expected HOST:PORT")
        try:
            port = int(port_text)
        except ValueError:
            raise ValueError(f"listener {entry!r}: the port must be a number") from None
        if not host or not 0 <= port <= 65535:
            raise ValueError(f"listener {entry!r}: expected HOST:PORT with a port of 0 to 65535")
        specs.append(ListenerSpec(host, port, dialects))
    return specs
