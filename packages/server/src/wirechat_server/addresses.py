"""Where a client comes from, as the per-address limits count it: its address's prefix.

One person rarely has one IPv4 address to themselves and often has a whole IPv6 /64, so the
limits on connections, connection rate and dormant sessions count per prefix, as Ergo does:
an IPv4 /32 and an IPv6 /64 by default (``ipv4_prefix``, ``ipv6_prefix``). Some addresses are
exempt (``exempt_addresses``, loopback by default: a local bridge or a benchmark is not an
attacker); their origin is the empty string, which no per-address limit counts.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Origins:
    """How addresses are grouped into origins."""

    ipv4_prefix: int = 32
    ipv6_prefix: int = 64
    exempt: frozenset[str] = frozenset({"127.0.0.1", "::1"})

    @classmethod
    def from_settings(cls, ipv4_prefix: int, ipv6_prefix: int, exempt: str) -> Origins:
        """From the server's settings; ``exempt`` is a comma-separated list of addresses.
        Raises ``ValueError`` naming the entry that is not an address."""
        return cls(ipv4_prefix, ipv6_prefix, frozenset(parse_exempt(exempt)))

    def of(self, address: str) -> str:
        """The origin of ``address``: its network at the configured prefix (``"2001:db8::/64"``;
        an IPv4 /32 is the address itself), ``""`` if exempt, and the address as given if it is
        not one (a client whose address could not be read)."""
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return address
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped  # ::ffff:192.0.2.1 is 192.0.2.1
        if str(ip) in self.exempt:
            return ""
        if isinstance(ip, ipaddress.IPv4Address):
            if self.ipv4_prefix == 32:
                return str(ip)
            return str(ipaddress.ip_network(f"{ip}/{self.ipv4_prefix}", strict=False))
        return str(ipaddress.ip_network(f"{ip}/{self.ipv6_prefix}", strict=False))


def parse_exempt(text: str) -> Iterable[str]:
    """The addresses of a comma-separated list, normalised (``0:0::1`` is ``::1``)."""
    for entry in (part.strip() for part in text.split(",")):
        if not entry:
            continue
        try:
            yield str(ipaddress.ip_address(entry))
        except ValueError:
            raise ValueError(f"exempt_addresses: {entry!r} is not an IP address") from None
