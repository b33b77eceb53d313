"""The client's model loads no UI: conversations and their logs work without Textual or Rich."""

from __future__ import annotations

import pytest

from tests.support.imports import modules_loaded_after as loaded_after

UI_MODULES = ("textual", "rich", "asyncio")


def modules_loaded_after(statement: str) -> set[str]:
    return loaded_after(statement, UI_MODULES)


@pytest.mark.parametrize(
    "statement",
    [
        "import wirechat_client.conversation",
        "import wirechat_client.log_model",
        "import wirechat_client.lines",
        "import wirechat_client.conversations, wirechat_client.feed",
        # Used, not just imported: a conversation taking messages and notes.
        "from wirechat_client.conversation import Conversation, Kind\n"
        "from wirechat_client.lines import LineKind, make_entry\n"
        "c = Conversation('#lobby', '#lobby', Kind.ROOM, lambda: 0)\n"
        "c.add_messages([make_entry(LineKind.MESSAGE, 'hi', nick='ash', ts=0, id=1)], count=True)\n"
        "c.note('a note'); c.mark_gap(); c.close_gap()\n"
        "assert c.unread == 1 and len(c.log.entries) == 4, c.log.entries",
    ],
)
def test_the_clients_model_loads_no_ui(statement: str) -> None:
    assert modules_loaded_after(statement) == set()


def test_the_check_can_see_the_ui_loaded() -> None:
    """The subprocess check is not blind: the widget does load Textual and Rich."""
    assert modules_loaded_after("import wirechat_client.widgets.chat_log") >= {"textual", "rich"}
