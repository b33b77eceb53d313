"""The dialect table on bytes alone: which opener each first chunk picks (no sockets)."""

from __future__ import annotations

import pytest

from wirechat_server.dialects.detect import FALLBACK, OPENERS, detect

TLS_HELLO_START = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"


@pytest.mark.parametrize(
    ("first", "protocol"),
    [
        (b'{"type":"hello","name":"ash"}\n', "native"),
        (b"{", "native"),
        (TLS_HELLO_START, "tls"),
        (b"\x16", "tls"),
        (b"CAP LS 302\r\n", "irc"),
        (b"NICK alice\r\nUSER alice 0 * :Alice\r\n", "irc"),
        (b"PASS secret\r\n", "irc"),
        (b"nick alice\r\n", "irc"),  # IRC commands are case-insensitive
        (b"USER alice 0 * :Alice\r\n", "irc"),
        (b"GET / HTTP/1.1\r\nHost: chat\r\n\r\n", "http"),
        (b"POST /send HTTP/1.0\r\n", "http"),
        (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "http"),
        (b"get / HTTP/1.1\r\n", "plain"),  # HTTP methods are case-sensitive; an invalid name
        (b"alice\n", "plain"),
        (b"alice", "plain"),  # the lab client: no newline, decided at once
        (b"NICK\n", "plain"),  # a bare word is a name, even one that is an IRC command
        (b"Nickolas\n", "plain"),
        (b"USERNAME", "plain"),
        (b"CAPTAIN\r\n", "plain"),
        (b"GETTY\n", "plain"),
        ("Zoë\n".encode(), "plain"),
        (b"\x00\x01binary", "plain"),
    ],
)
def test_each_opening_picks_its_protocol(first: bytes, protocol: str) -> None:
    opener = detect(first)
    assert opener is not None
    assert opener.name == protocol


@pytest.mark.parametrize("first", [b"N", b"NI", b"nic", b"CAP", b"US", b"G", b"OPTIO", b"PRI"])
def test_the_start_of_an_opening_word_waits_for_more(first: bytes) -> None:
    assert detect(first) is None
    final = detect(first, final=True)  # nothing more came in time: it is a plain name
    assert final is FALLBACK


def test_a_split_opening_is_recognised_once_the_rest_arrives() -> None:
    assert detect(b"NI") is None
    opener = detect(b"NICK alice\r\n")
    assert opener is not None
    assert opener.name == "irc"


def test_protocols_not_served_have_a_refusal_and_served_ones_a_dialect() -> None:
    for opener in OPENERS:
        assert (opener.dialect is None) == bool(opener.refusal), opener.name
    assert FALLBACK.dialect is not None
    assert [opener.name for opener in OPENERS] == ["native", "tls", "irc", "http"]
