"""Messages as clients see them, made from messages as stored: in one place."""

from __future__ import annotations

from wirechat_common import Message

from ..storage.model import StoredMessage


def shown(stored: StoredMessage, *, room: str | None = None, to: str | None = None) -> Message:
    """``stored`` as a ``message`` frame of ``room`` (its display name), or as a direct message
    to the user named ``to``."""
    return Message(
        id=stored.id,
        ts=stored.ts,
        sender=stored.sender,
        text=stored.text,
        action=stored.action,
        room=room,
        to=to,
    )
