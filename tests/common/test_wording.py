"""The wording of events for people: every leave reason in both wordings, and who is here."""

from __future__ import annotations

import pytest

from wirechat_common import (
    LAB_LEAVE_WORDING,
    LOG_LEAVE_WORDING,
    NAMES_SHOWN,
    LeaveReason,
    LeaveWording,
    leave_cause,
    people_here,
)

# Every reason, with its cause and the phrase each wording puts after the name. The lab column
# is what plain-text users have always read (docs/protocol.md); the log column is the client's.
LEAVES = [
    (LeaveReason.QUIT, None, "left", "left the conversation"),
    (LeaveReason.PART, None, "left the room", "left the conversation"),
    (
        LeaveReason.DROPPED,
        "connection lost",
        "left (connection lost)",
        "left the conversation unexpectedly",
    ),
    (LeaveReason.TIMEOUT, "timed out", "left (timed out)", "left the conversation (timed out)"),
    (
        LeaveReason.TOO_SLOW,
        "too slow to keep up",
        "left (too slow to keep up)",
        "left the conversation (too slow to keep up)",
    ),
    (
        LeaveReason.FLOOD,
        "cut off for flooding",
        "left (cut off for flooding)",
        "left the conversation (flooding)",
    ),
    (LeaveReason.KICKED, "kicked", "left (kicked)", "left the conversation (kicked)"),
    (
        LeaveReason.SHUTDOWN,
        "server shutting down",
        "left (server shutting down)",
        "left the conversation (server shutting down)",
    ),
]


def test_the_table_covers_every_leave_reason() -> None:
    assert [row[0] for row in LEAVES] == list(LeaveReason)


@pytest.mark.parametrize(("reason", "cause", "log", "lab"), LEAVES)
def test_each_reason_has_its_cause_and_phrases(
    reason: LeaveReason, cause: str | None, log: str, lab: str
) -> None:
    assert leave_cause(reason) == cause
    assert LOG_LEAVE_WORDING.phrase(reason) == log
    assert LAB_LEAVE_WORDING.phrase(reason) == lab


@pytest.mark.parametrize(("reason", "cause", "log", "lab"), LEAVES)
def test_a_reason_read_off_the_wire_as_a_plain_string_is_worded_the_same(
    reason: LeaveReason, cause: str | None, log: str, lab: str
) -> None:
    wire = str(reason.value)
    assert type(wire) is str
    assert (leave_cause(wire), LOG_LEAVE_WORDING.phrase(wire)) == (cause, log)
    assert LAB_LEAVE_WORDING.phrase(wire) == lab


def test_an_unknown_reason_is_shown_as_it_is() -> None:
    assert leave_cause("banned") == "banned"
    assert LOG_LEAVE_WORDING.phrase("banned") == "left (banned)"
    assert LAB_LEAVE_WORDING.phrase("banned") == "left the conversation (banned)"


def test_a_new_wording_takes_the_shared_causes() -> None:
    wording = LeaveWording(left="quit", parted="parted", phrases={LeaveReason.KICKED: "was kicked"})
    assert wording.phrase(LeaveReason.QUIT) == "quit"
    assert wording.phrase(LeaveReason.PART) == "parted"
    assert wording.phrase(LeaveReason.TIMEOUT) == "quit (timed out)"
    assert wording.phrase(LeaveReason.KICKED) == "was kicked"


def names(count: int) -> list[str]:
    return [f"user{n:02}" for n in range(count)]


def test_names_shown_is_twenty() -> None:
    assert NAMES_SHOWN == 20


@pytest.mark.parametrize(
    ("listed", "total", "expected"),
    [
        (["ash"], 0, "1 here: ash"),
        (["ash", "misty", "ryuka"], 0, "3 here: ash, misty, ryuka"),
        # A welcome that names the first few and counts everyone.
        (["ann", "bo", "cy"], 6, "6 here: ann, bo, cy and 3 more"),
        (["ann"], 2, "2 here: ann and 1 more"),
        # A total below the names listed is not believed.
        (["ann", "bo", "cy"], 2, "3 here: ann, bo, cy"),
        (["ann", "bo"], 2, "2 here: ann, bo"),
        # Nothing to list: nothing after the colon (what servers have always sent).
        ([], 0, "0 here: "),
    ],
)
def test_people_here_lists_names_and_counts_the_rest(
    listed: list[str], total: int, expected: str
) -> None:
    assert people_here(listed, total) == expected


def test_exactly_names_shown_names_are_all_listed() -> None:
    assert people_here(names(20)) == "20 here: " + ", ".join(names(20))


def test_one_name_past_names_shown_is_counted_not_listed() -> None:
    assert people_here(names(21)) == "21 here: " + ", ".join(names(20)) + " and 1 more"


def test_many_names_list_the_first_twenty_in_the_order_given() -> None:
    crowd = list(reversed(names(25)))
    assert people_here(crowd) == "25 here: " + ", ".join(crowd[:20]) + " and 5 more"


def test_more_names_than_shown_and_a_larger_total_count_both() -> None:
    line = people_here(names(25), 30)
    assert line == "30 here: " + ", ".join(names(20)) + " and 10 more"


def test_the_verb_replaces_here() -> None:
    assert people_here(["ann", "bo"], verb="online") == "2 online: ann, bo"
    assert people_here(["ann"], 4, verb="connected") == "4 connected: ann and 3 more"


def test_names_are_neither_sorted_nor_changed() -> None:
    assert people_here(["zed", "Ash", "ash"]) == "3 here: zed, Ash, ash"
