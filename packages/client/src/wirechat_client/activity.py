"""What wants the user's attention, as data: the hotlist, the unread count for the terminal's
title, and the alerts a mention or a direct message raises.

The chat screen works these out from its conversations; the App turns them into what the
terminal gets (:mod:`wirechat_client.terminal_out`). Nothing here loads Textual.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from .conversations import Conversations

#: Characters of a message a desktop notification carries: the notification says who and
#: where; the rest is in the log.
NOTIFICATION_TEXT: Final = 200


@dataclass(frozen=True, slots=True)
class HotItem:
    """A conversation with unread messages, as WeeChat's hotlist shows it: ``2:#dev(3)``."""

    number: int  # its place in the conversation list: Alt+number shows it
    name: str
    unread: int
    mentioned: bool  # a mention of us among them, or a direct message

    @property
    def label(self) -> str:
        return f"{self.number}:{self.name}({self.unread}){'!' if self.mentioned else ''}"


def hotlist(conversations: Conversations) -> list[HotItem]:
    """The conversations with unread messages, those that mention us first, then in list
    order (the one shown is never in it: its messages are read as they come)."""
    items = [
        HotItem(number, c.name, c.unread, c.mentioned)
        for number, c in enumerate(conversations.listed(), 1)
        if c.unread and c is not conversations.current
    ]
    return sorted(items, key=lambda item: not item.mentioned)  # stable: list order kept


@dataclass(frozen=True, slots=True)
class Activity:
    """How much is unread everywhere: what the terminal's title tells."""

    unread: int = 0
    mentioned: bool = False

    @classmethod
    def of(cls, items: Sequence[HotItem]) -> Activity:
        return cls(sum(i.unread for i in items), any(i.mentioned for i in items))

    def title(self, me: str, server: str) -> str:
        """``(3!) wirechat: alice @ host:port``: a count in front, as browsers' tabs do, so
        that it shows however short the terminal cuts its tab titles."""
        count = f"({self.unread}{'!' if self.mentioned else ''}) " if self.unread else ""
        return f"{count}wirechat: {me} @ {server}"


@dataclass(frozen=True, slots=True)
class Alert:
    """A message that mentions us, or a direct message to us, that just arrived."""

    nick: str
    text: str
    room: str | None  # None: a direct message

    @property
    def summary(self) -> str:
        """The notification's text: ``<bob> #dev: alice: ping`` or ``<bob> psst``. It starts
        with ``<``: a digit first would make some terminals read OSC 9 as another command."""
        where = f" {self.room}:" if self.room else ""
        text = self.text
        if len(text) > NOTIFICATION_TEXT:
            text = text[: NOTIFICATION_TEXT - 1] + "…"
        return f"<{self.nick}>{where} {text}"
