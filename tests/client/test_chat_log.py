"""The chat log widget on its own model: following, unread count, the cap, wrapping, wide text."""

from __future__ import annotations

from datetime import UTC

import pytest
from rich.cells import cell_len
from textual.app import App, ComposeResult

from tests.support.app import FIXED_MS, until
from wirechat_client.drawing import Look, entry_height, render_entry
from wirechat_client.lines import PENDING, LineKind, LogEntry, make_entry, mentions
from wirechat_client.log_model import LogModel
from wirechat_client.nick_colors import nick_color
from wirechat_client.widgets.chat_log import ChatLog


class LogApp(App[None]):
    def __init__(self, max_entries: int = 100) -> None:
        super().__init__()
        self.log_widget = ChatLog(LogModel(max_entries), tz=UTC)

    def compose(self) -> ComposeResult:
        yield self.log_widget


def line(n: int, text: str = "", nick: str = "bob") -> LogEntry:
    return make_entry(LineKind.MESSAGE, text or f"line {n}", nick=nick, ts=FIXED_MS)


def following(log: ChatLog) -> bool:
    return log.following


def top_row(log: ChatLog) -> str:
    return log.render_line(0).text


async def test_follows_new_lines_until_scrolled_up_then_counts_them() -> None:
    app = LogApp(max_entries=1000)
    async with app.run_test(size=(60, 20)) as pilot:
        log = app.log_widget
        log.extend(line(n) for n in range(100))
        await pilot.pause()
        assert following(log)
        assert log.scroll_y == log.max_scroll_y
        assert "line 99" in log.render_line(log.size.height - 1).text
        log.scroll_to(y=10, animate=False)
        await pilot.pause()
        assert not following(log)
        before = top_row(log)
        for n in range(100, 130):
            log.append(line(n))
        await pilot.pause()
        assert top_row(log) == before  # no jump
        assert log.unread == 30
        log.append(make_entry(LineKind.MESSAGE, "mine", nick="me", own=True))
        assert log.unread == 30  # our own lines are not news to us
        log.scroll_end(animate=False)
        await pilot.pause()
        assert following(log)
        assert log.unread == 0


async def test_the_view_stays_put_while_old_lines_are_dropped() -> None:
    app = LogApp(max_entries=100)
    async with app.run_test(size=(60, 20)) as pilot:
        log = app.log_widget
        log.extend(line(n) for n in range(100))
        await pilot.pause()
        log.scroll_to(y=50, animate=False)
        await pilot.pause()
        before = top_row(log)
        log.extend(line(n) for n in range(100, 140))
        await pilot.pause()
        assert len(log.model.entries) == 100
        assert log.model.entries[0].text == "line 40"
        assert top_row(log) == before


async def test_a_huge_batch_keeps_only_the_newest_lines() -> None:
    app = LogApp(max_entries=100)
    async with app.run_test(size=(60, 20)) as pilot:
        log = app.log_widget
        log.extend(line(n) for n in range(10_000))
        await pilot.pause()
        assert [e.text for e in (log.model.entries[0], log.model.entries[-1])] == [
            "line 9900",
            "line 9999",
        ]
        assert log.virtual_size.height == 100


async def test_lines_rewrap_on_resize_and_keep_their_text() -> None:
    app = LogApp()
    async with app.run_test(size=(100, 20)) as pilot:
        log = app.log_widget
        words = " ".join(f"word{n}" for n in range(30))
        log.append(line(0, words))
        await pilot.pause()
        wide_rows = len(log.lines_text())
        await pilot.resize_terminal(50, 20)
        await pilot.pause()
        narrow = log.lines_text()
        assert len(narrow) > wide_rows
        assert " ".join(" ".join(r.split("│", 1)[1].split()) for r in narrow) == words


async def test_theme_change_redraws_in_the_new_palette() -> None:
    app = LogApp()
    async with app.run_test(size=(60, 10)) as pilot:
        log = app.log_widget
        log.append(line(0, nick="carol"))
        await pilot.pause()
        colors = {str(s.style.color) for s in log.render_line(0) if s.style and s.style.color}
        app.theme = "textual-light"
        await pilot.pause()
        after = {str(s.style.color) for s in log.render_line(0) if s.style and s.style.color}
        assert colors != after


@pytest.mark.parametrize(
    "text",
    [
        "emoji 👩‍👩‍👧‍👦 family and 🇫🇷 flag " * 3,
        "wide 日本語のテキストは二つのセルを使います " * 4,
        "combining e\u0301e\u0301e\u0301 and zero\u200bwidth " * 5,
        "a" * 300,
        "tab\tseparated\tcolumns",
    ],
)
@pytest.mark.parametrize("width", [30, 45, 61, 100])
async def test_every_row_is_exactly_as_wide_as_the_log(text: str, width: int) -> None:
    from rich.console import Console
    from rich.style import Style

    plain = Style()
    look = Look(
        Console(width=width), plain, plain, plain, plain, plain, plain, plain, plain, plain, plain
    )
    entry = line(0, text, nick="a-rather-long-nickname")
    rows = render_entry(entry, width, look)
    assert len(rows) == entry_height(entry, width)
    for row in rows:
        assert row.cell_length == width
        assert cell_len(row.text) == width
    # The bar sits in the same column on every row: wrapped text never pushes it.
    assert len({row.text.index("│") for row in rows}) == 1


def test_mentions_are_whole_words_in_any_case() -> None:
    assert mentions("hi Alice!", "alice")
    assert mentions("alice: look", "alice")
    assert mentions("thanks alice.", "alice")
    assert not mentions("malice aforethought", "alice")
    assert not mentions("alice_bot says hi", "alice")
    assert not mentions("anything", "")


def test_nick_colors_are_stable() -> None:
    palette = ("a", "b", "c", "d")
    assert nick_color("Bob", palette) == nick_color("bob", palette)
    assert len({nick_color(n, palette) for n in ("alice", "bob", "carol", "dave", "eve")}) > 1


def message(n: int, text: str = "") -> LogEntry:
    return make_entry(LineKind.MESSAGE, text or f"message {n}", nick="bob", ts=FIXED_MS, id=n)


def texts(log: ChatLog) -> list[str]:
    return [entry.text for entry in log.model.entries]


async def test_messages_are_kept_in_id_order_once_each() -> None:
    app = LogApp()
    async with app.run_test(size=(60, 20)) as pilot:
        log = app.log_widget
        log.model.add([message(5), message(7)])
        log.model.add([message(6), message(7), message(5)])  # one new, two already shown
        note = make_entry(LineKind.INFO, "a note", order=(log.model.newest_id(), 1))
        log.append(note)
        log.model.add([message(3)])  # older: above everything
        await pilot.pause()
        assert texts(log) == ["message 3", "message 5", "message 6", "message 7", "a note"]
        assert (log.model.oldest_id(), log.model.newest_id()) == (3, 7)
        assert [row.split("│ ")[1].rstrip() for row in log.lines_text()] == texts(log)


async def test_a_pending_line_stays_last_until_its_ack_places_it() -> None:
    app = LogApp()
    async with app.run_test(size=(60, 20)) as pilot:
        log = app.log_widget
        log.model.add([message(1)])
        mine = make_entry(LineKind.MESSAGE, "mine", nick="me", own=True, order=(PENDING, 1))
        log.append(mine)
        log.model.add([message(2)])  # arrives before our ack: goes above our line
        assert texts(log) == ["message 1", "message 2", "mine"]
        mine.id, mine.ts, mine.order = 3, FIXED_MS, (3, 0)
        log.model.reposition(mine)
        log.model.add([message(4)])
        await pilot.pause()
        assert texts(log) == ["message 1", "message 2", "mine", "message 4"]
        assert log.model.find(3) is mine


async def test_history_put_in_above_does_not_move_the_view() -> None:
    app = LogApp(max_entries=1000)
    async with app.run_test(size=(60, 20)) as pilot:
        log = app.log_widget
        log.model.add(message(n) for n in range(500, 600))
        await pilot.pause()
        log.scroll_to(y=0, animate=False)
        await pilot.pause()
        assert top_row(log).endswith("message 500".ljust(len(top_row(log).split("│ ")[1])))
        before = top_row(log)
        placed = log.model.add(message(n) for n in range(400, 500))
        assert len(placed) == 100
        await pilot.pause()
        assert top_row(log) == before  # the new lines are above, out of view
        assert log.unread == 0  # history is not news
        log.model.discard([log.model.entries[0]])
        await pilot.pause()
        assert top_row(log) == before


class TopApp(LogApp):
    def __init__(self) -> None:
        super().__init__()
        self.tops: list[ChatLog] = []

    def on_chat_log_reached_top(self, event: ChatLog.ReachedTop) -> None:
        self.tops.append(event.log)


async def test_scrolling_to_the_top_asks_for_older_lines() -> None:
    app = TopApp()
    tops = app.tops
    async with app.run_test(size=(60, 20)) as pilot:
        log = app.log_widget
        log.model.add(message(n) for n in range(1, 60))
        await pilot.pause()
        log.scroll_to(y=0, animate=False)
        await until(pilot, lambda: bool(tops))
        assert tops == [log]
        log.model.add(message(n) for n in range(60, 70))  # moving the view ourselves asks nothing
        await pilot.pause()
        assert tops == [log]
