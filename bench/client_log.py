"""Measure chat-log widgets: Textual's RichLog and Log against the client's ChatLog.

Run: ``uv run python -m bench.client_log`` (about half a minute). For each widget, headless in
a 100x30 terminal, it times: 10,000 lines written one call at a time; ten bursts of 1,000 lines
(as the network delivers them: one batch); a resize that re-wraps everything; and whether the
view stays put when lines arrive while the user has scrolled up. Each timing runs until the
screen has been redrawn (``pilot.pause()``), so it is what a user would wait for.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual.app import App, ComposeResult
from textual.widget import Widget
from textual.widgets import Log, RichLog

from wirechat_client.lines import LineKind, make_entry
from wirechat_client.widgets.chat_log import MAX_ENTRIES, ChatLog

NICKS = ("alice", "bob", "carol", "dave", "eve", "mallory")
WORDS = ("the", "quick", "brown", "fox", "jumps", "over", "the", "lazy", "dog", "while", "a",
         "🦊", "watches", "日本語", "too")  # fmt: skip


def chat_line(n: int) -> tuple[str, str]:
    return NICKS[n % len(NICKS)], " ".join(WORDS[: 4 + n % 12]) + f" #{n}"


@dataclass
class Subject:
    name: str
    make: Callable[[], Widget]
    write_one: Callable[[Any, int], None]
    write_burst: Callable[[Any, range], None]


def _rich_write(widget: RichLog, n: int) -> None:
    nick, text = chat_line(n)
    widget.write(Text.assemble(("12:00 ", "dim"), (f"{nick:>12}", "bold cyan"), " │ ", text))


def _rich_burst(widget: RichLog, ns: range) -> None:
    for n in ns:  # RichLog has no batch write
        _rich_write(widget, n)


def _log_write(widget: Log, n: int) -> None:
    nick, text = chat_line(n)
    widget.write_line(f"12:00 {nick:>12} │ {text}")


def _entry(n: int) -> Any:
    nick, text = chat_line(n)
    return make_entry(LineKind.MESSAGE, text, nick=nick, ts=1_735_821_240_000)


SUBJECTS = [
    Subject(
        "RichLog(max_lines=5000, wrap=True)",
        lambda: RichLog(max_lines=MAX_ENTRIES, wrap=True, auto_scroll=True),
        _rich_write,
        _rich_burst,
    ),
    Subject(
        "RichLog(..., auto_scroll=False)",
        lambda: RichLog(max_lines=MAX_ENTRIES, wrap=True, auto_scroll=False),
        _rich_write,
        _rich_burst,
    ),
    Subject(
        "Log(max_lines=5000)",
        lambda: Log(max_lines=MAX_ENTRIES, auto_scroll=True),
        _log_write,
        lambda w, ns: w.write_lines(f"12:00 {chat_line(n)[0]:>12} │ {chat_line(n)[1]}" for n in ns),
    ),
    Subject(
        "ChatLog (wirechat_client)",
        lambda: ChatLog(),
        lambda w, n: w.append(_entry(n)),
        lambda w, ns: w.extend(_entry(n) for n in ns),
    ),
]


class Bench(App[None]):
    def __init__(self, subject: Subject) -> None:
        super().__init__()
        self.subject = subject

    def compose(self) -> ComposeResult:
        yield self.subject.make()


def top_text(widget: Widget) -> str:
    """The text of the first visible row."""
    return widget.render_line(0).text


async def measure(subject: Subject) -> dict[str, str]:
    app = Bench(subject)
    results: dict[str, str] = {}
    async with app.run_test(size=(100, 30)) as pilot:
        widget = next(iter(app.screen.children))
        start = time.perf_counter()
        for n in range(10_000):
            subject.write_one(widget, n)
        await pilot.pause()
        results["10k single writes"] = f"{time.perf_counter() - start:.2f} s"
        bursts = []
        for burst in range(10):
            start = time.perf_counter()
            subject.write_burst(widget, range(10_000 + burst * 1000, 11_000 + burst * 1000))
            await pilot.pause()
            bursts.append(time.perf_counter() - start)
        print(subject.name, "bursts (ms):", [round(b * 1000) for b in bursts])
        results["1k burst (median)"] = f"{sorted(bursts)[5] * 1000:.0f} ms"
        results["1k burst (worst)"] = f"{max(bursts) * 1000:.0f} ms"
        start = time.perf_counter()
        await pilot.resize_terminal(70, 30)
        await pilot.pause()
        results["resize re-wrap"] = f"{(time.perf_counter() - start) * 1000:.0f} ms"
        # Scroll up to the middle, then receive 1,000 more lines: does the view move?
        widget.scroll_to(y=widget.max_scroll_y // 2, animate=False)
        await pilot.pause()
        before = top_text(widget)
        subject.write_burst(widget, range(30_000, 31_000))
        await pilot.pause()
        results["view kept when scrolled up"] = "yes" if top_text(widget) == before else "NO"
    return results


async def idle_pause() -> str:
    """What ``pilot.pause()`` alone costs: it is inside every timing above."""
    app = Bench(SUBJECTS[-1])
    async with app.run_test(size=(100, 30)) as pilot:
        start = time.perf_counter()
        for _ in range(10):
            await pilot.pause()
        return f"{(time.perf_counter() - start) * 100:.1f} ms"


async def main() -> None:
    print("pilot.pause() alone:", await idle_pause())
    table = [(subject.name, await measure(subject)) for subject in SUBJECTS]
    columns = list(table[0][1])
    print(f"{'widget':38}" + "".join(f"{c:>28}" for c in columns))
    for name, results in table:
        print(f"{name:38}" + "".join(f"{results[c]:>28}" for c in columns))


if __name__ == "__main__":
    asyncio.run(main())
