"""The outbound seam: how the chat core sends what it has to say.

The core publishes every event through a :class:`Bus`: to a room's delivery group, or to one
member. :class:`~.fanout.Fanout` is the in-process implementation (render once per wire format,
the same bytes to every member, one write per recipient per turn); a bus that also reaches other
server processes would implement the same interface around it, so that the core does not change.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar

from wirechat_common import AnyMessage


class WireFormat(Protocol):
    """How events look on one kind of connection. One instance per format, shared by all."""

    def render(self, event: AnyMessage) -> bytes:
        """The bytes that show ``event``; empty when this format does not show it."""
        ...


GroupT = TypeVar("GroupT", contravariant=True)
MemberT = TypeVar("MemberT", contravariant=True)


class Bus(Protocol[GroupT, MemberT]):
    """Where the core's events go. Events reach each member in the order they were published;
    nothing is written until the bus flushes, soon after (see :class:`~.fanout.Fanout`)."""

    def to_room(self, room: GroupT, event: AnyMessage, *, exclude: MemberT | None = None) -> None:
        """Publish ``event`` to everyone in ``room`` but ``exclude``."""
        ...

    def to_member(self, member: MemberT, event: AnyMessage) -> None:
        """Send ``event`` to ``member`` alone (a reply: it may be rendered for that member),
        in order with everything else it is owed."""
        ...

    def entering(self, member: MemberT, room: GroupT) -> None:
        """``member`` enters ``room`` now: it must not get what the room was owed before."""
        ...

    def leaving(self, member: MemberT, room: GroupT) -> None:
        """``member`` leaves ``room`` now: it still gets what the room was owed until now."""
        ...

    def drain(self, member: MemberT) -> bytes:
        """Everything ``member`` is owed so far, now, for a member about to go."""
        ...

    def cut(self, member: MemberT) -> bytes:
        """Everything ``member`` is owed so far, to be written now, out of turn; from here on
        it is owed only what comes next."""
        ...

    def after_flush(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once what is queued now has been written."""
        ...

    def expedite(self) -> None:
        """Write what is queued at the end of this turn, not after the coalescing delay."""
        ...

    def flush(self) -> None:
        """Write everything queued, now."""
        ...
