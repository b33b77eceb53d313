"""Origins: the address prefixes per-address limits count by."""

from __future__ import annotations

import pytest

from wirechat_server.addresses import Origins
from wirechat_server.config import ServerConfig


def test_addresses_group_by_prefix_and_the_exempt_count_for_nothing() -> None:
    origins = Origins()  # IPv4 /32, IPv6 /64, loopback exempt
    assert origins.of("203.0.113.7") == "203.0.113.7"
    assert origins.of("::ffff:203.0.113.7") == "203.0.113.7"  # IPv4 through an IPv6 socket
    assert origins.of("2001:db8:1:2:aaaa::1") == origins.of("2001:db8:1:2:bbbb::9")
    assert origins.of("2001:db8:1:2::1") == "2001:db8:1:2::/64"
    assert origins.of("2001:db8:1:3::1") != origins.of("2001:db8:1:2::1")
    assert origins.of("127.0.0.1") == origins.of("::1") == origins.of("::ffff:127.0.0.1") == ""
    assert origins.of("127.0.0.2") == "127.0.0.2"  # the rest of 127/8 plays remote clients
    assert origins.of("?") == "?"  # an address that could not be read stays itself


def test_prefixes_and_exemptions_come_from_the_settings() -> None:
    origins = ServerConfig(ipv4_prefix=24, ipv6_prefix=48, exempt_addresses="10.0.0.1").origins
    assert origins.of("198.51.100.7") == origins.of("198.51.100.200") == "198.51.100.0/24"
    assert origins.of("2001:db8:1:ffff::1") == "2001:db8:1::/48"
    assert origins.of("10.0.0.1") == ""
    assert origins.of("127.0.0.1") == "127.0.0.0/24"  # loopback is exempt only by default


@pytest.mark.parametrize("bad", ["localhost", "10.0.0.1,nope", "::1/128"])
def test_an_exempt_entry_that_is_no_address_is_refused_naming_the_setting(bad: str) -> None:
    with pytest.raises(ValueError, match=r"exempt_addresses: .* is not an IP address"):
        ServerConfig(exempt_addresses=bad)
