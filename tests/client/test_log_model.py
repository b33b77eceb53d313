"""The log model without a UI: order, each id once, the cap, what its view is told, and a
conversation driven through it."""

from __future__ import annotations

from datetime import UTC

from tests.support.app import FIXED_MS
from wirechat_client.conversation import Conversation, Kind, message_entry
from wirechat_client.lines import PENDING, LineKind, LogEntry, make_entry
from wirechat_client.log_model import Added, LogModel
from wirechat_common import Message

DAY_MS = 24 * 3600 * 1000


class RecordingView:
    """A view that writes down what it is told."""

    def __init__(self) -> None:
        self.told: list[tuple[str, object]] = []

    def entries_added(self, change: Added) -> None:
        self.told.append(("added", change))

    def entries_removed(self) -> None:
        self.told.append(("removed", None))

    def entry_moved(self, entry: LogEntry) -> None:
        self.told.append(("moved", entry.text))

    def entry_changed(self, entry: LogEntry) -> None:
        self.told.append(("changed", entry.text))

    def entries_cleared(self) -> None:
        self.told.append(("cleared", None))


def watched(max_entries: int = 100) -> tuple[LogModel, RecordingView]:
    model, view = LogModel(max_entries), RecordingView()
    model.view = view
    return model, view


def message(n: int, *, nick: str = "bob", own: bool = False) -> LogEntry:
    return make_entry(LineKind.MESSAGE, f"message {n}", nick=nick, ts=FIXED_MS, own=own, id=n)


def texts(model: LogModel) -> list[str]:
    return [entry.text for entry in model.entries]


def test_messages_are_kept_in_id_order_once_each() -> None:
    model = LogModel()
    assert model.add([message(5), message(7)]) == model.entries[:2]
    placed = model.add([message(6), message(7), message(5)])  # one new, two already held
    assert [entry.text for entry in placed] == ["message 6"]
    model.add([make_entry(LineKind.INFO, "a note", order=(model.newest_id(), 1))])
    model.add([message(3)])  # older: above everything
    assert texts(model) == ["message 3", "message 5", "message 6", "message 7", "a note"]
    assert (model.oldest_id(), model.newest_id()) == (3, 7)
    assert model.find(6) is placed[0]
    assert model.find(4) is None


def test_an_empty_log_has_no_ids() -> None:
    model = LogModel()
    assert (model.oldest_id(), model.newest_id(), model.entries) == (None, 0, [])
    assert model.add([]) == []


def test_the_oldest_entries_go_past_the_cap() -> None:
    model, view = watched(max_entries=5)
    model.add(message(n) for n in range(1, 5))
    assert model.room_left == 1
    placed = model.add([message(5), message(6), message(7)])
    assert texts(model) == [f"message {n}" for n in range(3, 8)]
    assert len(placed) == 3
    assert model.room_left == 0
    assert model.find(1) is None
    assert model.find(2) is None
    assert view.told[-1] == ("added", Added(start=2, trimmed=2, fresh=3))


def test_a_huge_batch_keeps_only_the_newest_and_returns_only_those_kept() -> None:
    model = LogModel(max_entries=10)
    placed = model.add(message(n) for n in range(1000, 0, -1))
    assert texts(model) == [f"message {n}" for n in range(991, 1001)]
    assert placed == list(model.entries)


def test_entries_put_in_above_the_newest_are_no_news_and_ask_for_a_full_layout() -> None:
    model, view = watched()
    model.add(message(n) for n in range(500, 510))
    assert view.told == [("added", Added(start=0, trimmed=0, fresh=10))]
    model.add(message(n) for n in range(400, 410))  # older history, paged in above
    assert view.told[-1] == ("added", Added(start=None, trimmed=0, fresh=0))
    model.add([message(450), message(510)])  # one in the middle, one at the bottom
    assert view.told[-1] == ("added", Added(start=None, trimmed=0, fresh=1))


def test_our_own_lines_and_lines_awaiting_an_ack_are_no_news() -> None:
    model, view = watched()
    model.add([message(1)])
    model.add([message(2, nick="me", own=True)])
    assert view.told[-1] == ("added", Added(start=1, trimmed=0, fresh=0))
    pending = make_entry(LineKind.MESSAGE, "mine", nick="me", order=(PENDING, 1))
    model.add([pending])
    assert view.told[-1] == ("added", Added(start=2, trimmed=0, fresh=0))
    model.add([message(3)])  # above our pending line, yet news
    assert view.told[-1] == ("added", Added(start=None, trimmed=0, fresh=1))
    assert texts(model) == ["message 1", "message 2", "message 3", "mine"]


def test_a_batch_of_lines_already_held_tells_the_view_nothing() -> None:
    model, view = watched()
    model.add([message(1)])
    view.told.clear()
    assert model.add([message(1)]) == []
    assert view.told == []


def test_a_pending_line_stays_last_until_its_ack_places_it() -> None:
    model, view = watched()
    model.add([message(1)])
    mine = make_entry(LineKind.MESSAGE, "mine", nick="me", own=True, order=(PENDING, 1))
    model.add([mine])
    model.add([message(2)])
    mine.id, mine.ts, mine.order = 3, FIXED_MS, (3, 0)
    model.reposition(mine)  # still last: only drawn again
    assert view.told[-1] == ("changed", "mine")
    assert model.find(3) is mine
    model.add([message(4)])
    assert texts(model) == ["message 1", "message 2", "mine", "message 4"]
    mine.order = (PENDING, 2)  # refused after all: back to the bottom
    model.reposition(mine)
    assert view.told[-1] == ("moved", "mine")
    assert texts(model) == ["message 1", "message 2", "message 4", "mine"]


def test_repositioning_an_entry_not_held_does_nothing() -> None:
    model, view = watched()
    model.reposition(message(1))
    assert (model.entries, view.told) == ([], [])


def test_discarded_entries_free_their_id() -> None:
    model, view = watched()
    entries = [message(1), message(2), message(3)]
    model.add(entries)
    model.discard([entries[1]])
    assert texts(model) == ["message 1", "message 3"]
    assert view.told[-1] == ("removed", None)
    assert model.find(2) is None
    assert len(model.add([message(2)])) == 1
    view.told.clear()
    model.discard([entries[1]])  # no longer held: nothing to tell
    model.discard([])
    assert view.told == []


def test_forgotten_ids_can_be_shown_again() -> None:
    model, view = watched()
    model.add([message(1), message(2)])
    view.told.clear()
    model.forget_ids()  # the entries keep their place: nothing to lay out
    assert view.told == []
    assert all(entry.id is None for entry in model.entries)
    assert model.newest_id() == 0
    assert len(model.add([message(1)])) == 1


def test_clearing_empties_the_log_and_tells_the_view() -> None:
    model, view = watched()
    model.add([message(1)])
    model.clear()
    assert (model.entries, model.find(1), view.told[-1]) == ([], None, ("cleared", None))


def test_a_change_in_place_is_passed_on_and_a_model_needs_no_view() -> None:
    model, view = watched()
    gap = make_entry(LineKind.GAP, "lost")
    model.add([gap])
    model.changed(gap)
    assert view.told[-1] == ("changed", "lost")
    alone = LogModel()
    alone.add([message(2), message(1)])
    alone.changed(alone.entries[0])
    alone.clear()
    assert alone.entries == []


# -- a conversation, without a UI ---------------------------------------------------------


def room(now: int = FIXED_MS) -> Conversation:
    return Conversation("#lobby", "#lobby", Kind.ROOM, lambda: now, UTC)


#: The date line above the oldest message: the day of FIXED_MS.
THURSDAY = "Thursday 2 January 2025"


def said(n: int, sender: str = "bob", ts: int = FIXED_MS) -> LogEntry:
    return message_entry(Message(id=n, ts=ts, sender=sender, text=f"message {n}"), "me")


def test_a_conversation_places_messages_by_id_and_counts_them_while_not_shown() -> None:
    conversation = room()
    conversation.add_messages([said(2), said(1)], count=True)
    conversation.add_messages([said(2), said(3, sender="me")], count=True)
    assert texts(conversation.log) == [THURSDAY, "message 1", "message 2", "message 3"]
    assert conversation.unread == 2  # ours is not news, nor the repeat
    conversation.seen()
    assert conversation.unread == 0


def test_a_conversation_marks_a_day_change_between_messages() -> None:
    conversation = room()
    conversation.add_messages([said(1), said(2, ts=FIXED_MS + DAY_MS)], count=False)
    assert texts(conversation.log) == [
        THURSDAY,
        "message 1",
        "Day changed to Friday 3 January 2025",
        "message 2",
    ]


def test_the_oldest_day_has_a_date_line_that_becomes_a_day_change_when_older_come() -> None:
    conversation = room()
    conversation.add_messages([said(5, ts=FIXED_MS + DAY_MS)], count=False)
    assert texts(conversation.log) == ["Friday 3 January 2025", "message 5"]
    conversation.older_page([said(4, ts=FIXED_MS + DAY_MS), said(3)], more=False, count=False)
    assert texts(conversation.log) == [
        "— beginning of history —",
        THURSDAY,
        "message 3",
        "Day changed to Friday 3 January 2025",
        "message 4",
        "message 5",
    ]


def test_a_resent_line_already_shown_goes_when_acknowledged_as_a_duplicate() -> None:
    conversation = room()
    mine = make_entry(LineKind.MESSAGE, "message 1", nick="me", own=True, order=(PENDING, 1))
    conversation.log.add([mine])
    conversation.add_messages([said(1, sender="me")], count=False)  # it came back in a replay
    conversation.confirm(mine, 1, FIXED_MS, duplicate=True)
    assert texts(conversation.log) == [THURSDAY, "message 1"]
    assert conversation.log.find(1) is not mine


def test_a_live_message_with_an_id_already_shown_means_the_ids_started_again() -> None:
    conversation = room()
    conversation.add_messages([said(1), said(2)], count=False)
    conversation.add_messages([said(1, sender="ann")], count=False, live=True)
    assert texts(conversation.log) == [THURSDAY, "message 1", "message 2", "message 1"]
    assert conversation.log.find(1) is conversation.log.entries[-1]
