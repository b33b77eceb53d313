"""The contract every dialect keeps: the same chat scenarios, run over every pairing of the
dialects the server speaks.

A dialect is only a way of putting the one conversation into bytes, so what a user can do and
what it is told must not depend on it: registering, being refused a taken name, saying a line and
hearing the others', seeing who comes and goes and why, getting the recent lines on arrival, and
being cut off for not reading or for flooding while the others carry on. Each scenario here is
written once against :class:`~tests.support.dialects.Speaker` ("a user speaking dialect
X") and, since each has at least two users, parametrised over every ordered pair of
:data:`~tests.support.dialects.DIALECTS`: each dialect meets its own kind, and a native
user and a plain-text user are shown to hear each other, both ways. Where dialects differ by
design (a native client may retry a refused name, a plain-text one is disconnected), a scenario
asks the speaker class, never the dialect's name. The last scenario checks that a user's last
lines reach the others before its leave does, however it leaves.

To add a dialect: write its ``Speaker`` subclass in ``tests/support/dialects.py`` (how to
register, say, recognise what it hears, leave) and append it to ``DIALECTS`` there. Nothing here
changes.
"""

from __future__ import annotations

import itertools
import time
from typing import Any, Final

import pytest

from tests.support.dialects import (
    DIALECTS,
    Arrived,
    Cast,
    Closing,
    Departed,
    Event,
    Refused,
    Registered,
    Said,
    Speaker,
)
from tests.support.net import running_server
from wirechat_common import ErrorCode, LeaveReason

PAIRS: Final = list(itertools.product(DIALECTS, repeat=2))


def each_pair(first: str, second: str) -> pytest.MarkDecorator:
    """Every ordered pair of dialects, as the arguments ``first`` and ``second``."""
    return pytest.mark.parametrize(
        (first, second), PAIRS, ids=[f"{a.dialect}-{b.dialect}" for a, b in PAIRS]
    )


def presence(events: list[Event]) -> list[Event]:
    return [event for event in events if isinstance(event, Arrived | Departed)]


# -- 1. registering ----------------------------------------------------------------------------


@each_pair("first", "second")
async def test_a_user_registers_is_listed_and_the_welcome_says_who_is_here(
    first: type[Speaker], second: type[Speaker]
) -> None:
    async with running_server() as server, Cast(server) as cast:
        ash = await cast.open(first)
        assert await ash.register("Ash") == Registered(users=("Ash",), history=())
        assert server.core.users() == ["Ash"]

        brock = await cast.open(second)
        # Sorted regardless of case: "brock" after "Ash", not before it.
        assert await brock.register("brock") == Registered(users=("Ash", "brock"), history=())
        assert server.core.users() == ["Ash", "brock"]
        await ash.saw_join("brock")
        assert presence(await brock.drain()) == []  # no news of itself


# -- 2. a taken name ---------------------------------------------------------------------------


@pytest.mark.parametrize("spelling", ["Alice", "alice", "ALICE"])
@each_pair("first", "second")
async def test_a_taken_name_is_refused_in_any_case_and_the_holder_is_unaffected(
    first: type[Speaker], second: type[Speaker], spelling: str
) -> None:
    async with running_server() as server, Cast(server) as cast:
        alice = await cast.enter(first, "Alice")
        impostor = await cast.open(second)
        assert await impostor.register(spelling) == Refused(ErrorCode.NAME_TAKEN)
        assert server.core.users() == ["Alice"]
        assert presence(await alice.drain()) == []  # nobody heard of the impostor

        if second.retries_name:  # the same connection may ask for another name
            assert isinstance(await impostor.register("Bob"), Registered)
            bob = impostor
        else:  # the refusal ended the connection: a new one is a new attempt
            assert await impostor.expect_closed() == []
            bob = await cast.enter(second, "Bob")
        await alice.saw_join("Bob")
        await alice.say("still here")
        assert await bob.heard() == Said("Alice", "still here")
        assert server.core.users() == ["Alice", "Bob"]


# -- 3. saying and hearing ---------------------------------------------------------------------


@each_pair("speaker", "listener")
async def test_what_one_says_the_other_hears_in_order_and_nobody_hears_itself(
    speaker: type[Speaker], listener: type[Speaker]
) -> None:
    lines = ["hello", "a line: with a colon", "tab\tand ünïcödé ✓"]
    async with running_server() as server, Cast(server) as cast:
        ash = await cast.enter(speaker, "Ash")
        brock = await cast.enter(listener, "Brock")
        await ash.saw_join("Brock")

        for line in lines:
            await ash.say(line)
        assert await brock.hear(len(lines)) == [Said("Ash", line) for line in lines]
        await brock.say("hi Ash")
        assert await ash.heard() == Said("Brock", "hi Ash")

        # Whatever each had been sent is in by now: neither got its own lines back.
        assert [e for e in await ash.drain() if isinstance(e, Said)] == []
        assert [e for e in await brock.drain() if isinstance(e, Said)] == []


# -- 4. arrivals and departures ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("how", "reason"),
    [("quit", LeaveReason.QUIT), ("close", LeaveReason.DROPPED), ("reset", LeaveReason.DROPPED)],
)
@each_pair("stayer", "leaver")
async def test_the_others_hear_a_join_and_a_leave_with_its_reason(
    stayer: type[Speaker], leaver: type[Speaker], how: str, reason: str
) -> None:
    async with running_server() as server, Cast(server) as cast:
        ash = await cast.enter(stayer, "Ash")
        brock = await cast.enter(leaver, "Brock")
        await ash.saw_join("Brock")

        if how == "quit":
            assert Closing(LeaveReason.QUIT) in await brock.quit()
        elif how == "close":
            await brock.hang_up()
        else:
            brock.reset()
        assert await ash.saw_leave("Brock") == reason
        assert server.core.users() == ["Ash"]

        # The name is free again at once, and its return is news like any arrival.
        await cast.enter(leaver, "Brock")
        await ash.saw_join("Brock")


# -- 5. the recent lines on arrival ------------------------------------------------------------

#: Both dialects show a newcomer the lobby's last 3 lines.
HISTORY_SETTINGS: Final[dict[str, Any]] = {"history_on_join": 3, "plain_history_lines": 3}


@each_pair("talker", "newcomer")
async def test_a_newcomer_gets_the_lobby_s_last_lines_then_live_ones(
    talker: type[Speaker], newcomer: type[Speaker]
) -> None:
    async with running_server(**HISTORY_SETTINGS) as server, Cast(server) as cast:
        ash = await cast.enter(talker, "Ash")
        brock = await cast.enter(newcomer, "Brock")
        # A line heard is a line stored. Brock answers only once he heard Ash: a plain-text
        # line has no ack, so two users talking at once may be stored in either order.
        for text in ("one", "two", "three", "four"):
            await ash.say(text)
        assert await brock.hear(4) == [Said("Ash", t) for t in ("one", "two", "three", "four")]
        await brock.say("five")
        assert await ash.heard() == Said("Brock", "five")

        misty = await cast.open(newcomer)
        assert await misty.register("Misty") == Registered(
            users=("Ash", "Brock", "Misty"),
            history=(Said("Ash", "three"), Said("Ash", "four"), Said("Brock", "five")),
        )
        await ash.say("live")
        assert await misty.heard() == Said("Ash", "live")


# -- 6. a user who does not read ---------------------------------------------------------------

KIB: Final = 1024
#: Small output bounds so that a non-reader is cut after little traffic (once the kernel's
#: buffers toward it are full); no rate limit, so the talker is never held back.
SLOW_SETTINGS: Final[dict[str, Any]] = {
    "msg_rate": 0,
    "max_output_buffer": 64 * KIB,
    "soft_output_buffer": 32 * KIB,
    "write_timeout": 2.0,
}
BATCH: Final = 32  # 1 KiB lines per round: well under every bound for those who do read
MAX_LINES: Final = 8000  # 8 MiB: twice what the kernel can absorb for a non-reader


@each_pair("slow", "talker")
async def test_a_user_who_never_reads_is_cut_as_too_slow_and_nobody_loses_a_line(
    slow: type[Speaker], talker: type[Speaker]
) -> None:
    async with running_server(**SLOW_SETTINGS) as server, Cast(server) as cast:
        # One reader of every dialect: each must get every line while the non-reader stalls.
        readers = [await cast.enter(d, f"reader-{d.dialect}") for d in DIALECTS]
        await cast.silent(slow, "slow")
        ash = await cast.enter(talker, "Ash")
        for reader in readers:
            await reader.saw_join("slow")
            await reader.saw_join("Ash")

        sent = 0
        while "slow" in server.core.users():
            assert sent < MAX_LINES, f"{sent} KiB sent and the non-reader is still in"
            batch = [f"{n:05} " + "x" * (KIB - 6) for n in range(sent, sent + BATCH)]
            await ash.say_all(batch)
            for reader in readers:  # in order, none missing, none twice
                assert await reader.hear(BATCH) == [Said("Ash", text) for text in batch]
            sent += BATCH
        assert sent * KIB >= SLOW_SETTINGS["max_output_buffer"]  # not cut for something else

        for reader in readers:
            assert await reader.saw_leave("slow") == LeaveReason.TOO_SLOW
        await ash.say("after")
        for reader in readers:
            assert await reader.heard() == Said("Ash", "after")
        assert server.core.users() == sorted(["Ash", *(r.name for r in readers)], key=str.lower)


# -- 7. a flood --------------------------------------------------------------------------------

#: A burst of 10, then 20 a second; past 1 s worth of delayed requests (20) the client is cut.
FLOOD_SETTINGS: Final[dict[str, Any]] = {"msg_burst": 10, "msg_rate": 20.0, "flood_backlog": 1.0}


@each_pair("flooder", "other")
async def test_a_flood_is_delayed_then_cut_while_the_others_carry_on(
    flooder: type[Speaker], other: type[Speaker]
) -> None:
    async with running_server(**FLOOD_SETTINGS) as server, Cast(server) as cast:
        ash = await cast.enter(other, "Ash")
        flo = await cast.enter(flooder, "Flo")
        await ash.saw_join("Flo")

        # Past the burst but within the backlog: held back, not dropped, not cut.
        burst = [f"b{n}" for n in range(15)]
        started = time.monotonic()
        await flo.send(flo.lines(burst))
        assert await ash.hear(len(burst)) == [Said("Flo", text) for text in burst]
        # A floor set by the rate limit, not a speed: at most 10 go at once, the 5 others
        # need 5 / 20 s more. A slow machine only makes this larger.
        assert time.monotonic() - started >= 0.2
        assert "Flo" in server.core.users()

        # Far past the backlog: told why, then cut.
        flood = [f"f{n}" for n in range(200)]
        await flo.send(flo.lines(flood))
        assert (await flo.expect_closed())[-1:] == [Refused(ErrorCode.FLOOD)]
        # What Flo was allowed to say before the cut (with the burst spent, maybe nothing)
        # reached Ash in order and before the leave; the rest never did.
        heard: list[Said] = []
        while isinstance(event := await ash.expect_any((Said, Departed)), Said):
            heard.append(event)
        assert event == Departed("Flo", LeaveReason.FLOOD)
        assert len(heard) < len(flood)
        assert heard == [Said("Flo", text) for text in flood[: len(heard)]]

        # Ash carries on with a newcomer (the name is free again).
        new = await cast.enter(flooder, "Flo")
        await new.say("end")
        assert await ash.heard() == Said("Flo", "end")
        await ash.say("still here")
        assert await new.heard() == Said("Ash", "still here")
        assert server.core.users() == ["Ash", "Flo"]


# -- 8. last words -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("how", "reason"), [("bye", LeaveReason.QUIT), ("close", LeaveReason.DROPPED)]
)
@each_pair("stayer", "leaver")
async def test_a_user_s_last_line_is_heard_before_its_leave(
    stayer: type[Speaker], leaver: type[Speaker], how: str, reason: str
) -> None:
    # coalesce_delay only widens the window: at the default 2 ms the order is the same.
    async with running_server(coalesce_delay=0.05) as server, Cast(server) as cast:
        ash = await cast.enter(stayer, "Ash")
        bob = await cast.enter(leaver, "Bob")
        await ash.saw_join("Bob")

        if how == "bye":  # typed ahead: the line and the bye in one packet
            await bob.send(bob.lines(["last words"]) + bob.farewell())
        else:  # the line, then the connection closed (nc and Ctrl-D)
            await bob.send(bob.lines(["last words"]))
            await bob.hang_up()
        assert await ash.expect_any((Said, Departed)) == Said("Bob", "last words")
        assert await ash.saw_leave("Bob") == reason
