"""The pure parts of the input line: commands, history, completion and addresses."""

from __future__ import annotations

import pytest

from wirechat_client.address import Address, parse_address
from wirechat_client.commands import (
    COMMANDS,
    ChangeTopic,
    Invalid,
    JoinRoom,
    ListRoomsFrom,
    PartRoom,
    Run,
    Send,
    SendDirect,
    help_lines,
    parse_line,
)
from wirechat_client.completion import Completer
from wirechat_client.history import InputHistory


@pytest.mark.parametrize(
    ("line", "parsed"),
    [
        ("hello", Send("hello")),
        ("  spaced out  ", Send("  spaced out")),
        ("   ", None),
        ("", None),
        ("bye", Run("bye")),
        (" BYE ", Run("bye")),
        ("bye now", Send("bye now")),
        ("/quit", Run("/quit")),
        ("/QUIT", Run("/quit")),
        ("/who", Run("/who")),
        ("/help", Run("/help")),
        ("/clear", Run("/clear")),
        ("/me waves", Send("waves", action=True)),
        ("/me   waves  ", Send("waves", action=True)),
        ("/me", Invalid("usage: /me ACTION")),
        ("//etc/hosts", Send("/etc/hosts")),
        ("[bold]x[/]", Send("[bold]x[/]")),
        ("/rooms", ListRoomsFrom(None)),
        ("/rooms dev", ListRoomsFrom("#dev")),
        ("/join #dev", JoinRoom("#dev")),
        ("/JOIN dev ", JoinRoom("#dev")),
        ("/part", PartRoom(None)),
        ("/part #Dev", PartRoom("#Dev")),
        ("/msg bob hi there ", SendDirect("bob", "hi there")),
        ("/msg bob", SendDirect("bob", "")),
        ("/topic ship it", ChangeTopic("ship it")),
        ("/topic", ChangeTopic("")),
    ],
)
def test_parse_line(line: str, parsed: object) -> None:
    assert parse_line(line) == parsed


def test_unknown_commands_and_bad_text_are_local_errors() -> None:
    unknown = parse_line("/frobnicate all")
    assert isinstance(unknown, Invalid)
    assert "unknown command /frobnicate" in unknown.reason
    too_long = parse_line("x" * 20, max_text_bytes=16)
    assert isinstance(too_long, Invalid)
    assert "longer than 16 bytes" in too_long.reason
    control = parse_line("a\x1b[31mb")
    assert isinstance(control, Invalid)
    assert "U+001B" in control.reason
    two_rooms = parse_line("/rooms #a b")
    assert isinstance(two_rooms, Invalid)
    assert two_rooms.reason.startswith("usage: /rooms [#ROOM]")


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("/join", "usage: /join #ROOM"),
        ("/join #a b", "usage: /join #ROOM"),
        ("/join #bad!", "usage: /join #ROOM"),
        ("/part # x", "usage: /part [#ROOM]"),
        ("/msg", "usage: /msg NAME [TEXT]"),
        ("/msg #dev hi", "is not a user name"),
        ("/msg bob \x1b[2J", "not sent"),
        ("/topic " + "x" * 600, "topic not set"),
    ],
)
def test_bad_arguments_are_local_errors(line: str, reason: str) -> None:
    parsed = parse_line(line)
    assert isinstance(parsed, Invalid)
    assert reason in parsed.reason


def test_help_lists_every_command() -> None:
    text = "\n".join(help_lines())
    assert all(command in text for command in COMMANDS)


def test_history_walks_back_and_forth_keeping_the_draft() -> None:
    history = InputHistory(limit=3)
    assert history.back("draft") is None
    for line in ("one", "two", "two", "three", "four"):
        history.add(line)
    assert len(history) == 3  # the oldest went; "two" twice in a row is kept once
    assert history.back("draft") == "four"
    assert history.back("four") == "three"
    assert history.back("three") == "two"
    assert history.back("two") is None
    assert history.forward() == "three"
    assert history.forward() == "four"
    assert history.forward() == "draft"
    assert history.forward() is None


NICKS = ["alice", "Bob", "bobby", "carol"]


def test_completion_of_nicks_and_commands() -> None:
    complete = Completer().complete
    assert complete("ca", 2, NICKS, COMMANDS) == ("carol: ", 7)
    assert complete("hi ca", 5, NICKS, COMMANDS) == ("hi carol ", 9)
    assert complete("hi @ca", 6, NICKS, COMMANDS) == ("hi carol ", 9)
    assert complete("/q", 2, NICKS, COMMANDS) == ("/quit ", 6)
    assert complete("say /q", 6, NICKS, COMMANDS) is None  # not a command past the first word
    assert complete("zz", 2, NICKS, COMMANDS) is None
    assert complete("", 0, NICKS, COMMANDS) is None
    # Completing in the middle keeps what follows the cursor.
    assert complete("ca is here", 2, NICKS, COMMANDS) == ("carol: is here", 6)
    assert complete("hi a and b", 4, NICKS, COMMANDS) == ("hi alice and b", 8)


def test_completion_of_rooms_and_of_names_after_msg() -> None:
    complete = Completer().complete
    rooms = ["#dev", "#Design", "#lobby"]
    assert complete("/join #d", 8, NICKS, COMMANDS, rooms) == ("/join #Design ", 14)
    assert complete("see #l", 6, NICKS, COMMANDS, rooms) == ("see #lobby ", 11)
    assert complete("#lo", 3, NICKS, COMMANDS, rooms) == ("#lobby ", 7)  # no ":" for a room
    everyone = [*NICKS, "zed"]
    assert complete("/msg z", 6, NICKS, COMMANDS, rooms, everyone) == ("/msg zed ", 9)
    assert complete("hi z", 4, NICKS, COMMANDS, rooms, everyone) is None  # not in the room


def test_repeated_tab_cycles_and_typing_starts_afresh() -> None:
    completer = Completer()
    first = completer.complete("hi b", 4, NICKS, COMMANDS)
    assert first == ("hi Bob ", 7)
    second = completer.complete(*first, NICKS, COMMANDS)
    assert second == ("hi bobby ", 9)
    assert completer.complete(*second, NICKS, COMMANDS) == ("hi Bob ", 7)
    assert completer.complete("hi Bob c", 8, NICKS, COMMANDS) == ("hi Bob carol ", 13)


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("localhost", Address("localhost", 5001)),
        ("chat.example:6000", Address("chat.example", 6000)),
        ("10.0.0.1:7", Address("10.0.0.1", 7)),
        ("::1", Address("::1", 5001)),
        ("[::1]:6000", Address("::1", 6000)),
        (" host ", Address("host", 5001)),
        ("host:", Address("host", 5001)),
    ],
)
def test_parse_address(text: str, address: Address) -> None:
    assert parse_address(text) == address


@pytest.mark.parametrize("text", ["", "host:0", "host:99999", "host:x", ":5", "a:b:c"])
def test_parse_address_refuses(text: str) -> None:
    with pytest.raises(ValueError, match=r"."):
        parse_address(text)


def test_addresses_print_back_the_way_they_parse() -> None:
    assert str(Address("::1", 6000)) == "[::1]:6000"
    assert str(Address("host", 5001)) == "host:5001"
