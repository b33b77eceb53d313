"""Server addresses: ``HOST``, ``HOST:PORT`` or ``[IPV6]:PORT``, parsed once for CLI and screen."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Final

DEFAULT_HOST: Final = "127.0.0.1"
DEFAULT_PORT: Final = 5001


@dataclass(frozen=True, slots=True)
class Address:
    """Where a server listens."""

    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def parse_address(text: str, default_port: int = DEFAULT_PORT) -> Address:
    """Parse ``HOST[:PORT]``; raise ``ValueError`` with a message fit to show the user."""
    text = text.strip()
    if not text:
        raise ValueError("the server address is empty")
    host, port_text = text, ""
    if text.startswith("["):  # [::1]:5001
        host, bracket, rest = text[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise ValueError(f"{text!r} is not HOST, HOST:PORT or [IPV6]:PORT")
        port_text = rest[1:]
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
    elif ":" in text:  # only a bare IPv6 address may have several colons
        try:
            ipaddress.IPv6Address(text)
        except ValueError:
            raise ValueError(f"{text!r} is not HOST, HOST:PORT or [IPV6]:PORT") from None
    if not host or any(c.isspace() for c in host):
        raise ValueError(f"{text!r} has no valid host name")
    if not port_text:
        return Address(host, default_port)
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"the port must be a number from 1 to 65535, not {port_text!r}")
    return Address(host, int(port_text))
