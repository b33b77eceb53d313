"""How chat events are put into words for people: why someone left, and who is here.

Everything that shows events to a person as text (the terminal client's log, the server's
plain-text dialect, an IRC dialect one day) takes its phrases from here, so that "timed out" or
"and 3 more" is decided once and a new front end does not write a third copy. The phrases are
plain strings with no line terminator and no markup; each front end puts them in its own frame
(a log line, ``NAME PHRASE\\n``, an IRC trailing parameter).

Two wordings of a departure exist because two audiences are already used to them:
:data:`LOG_LEAVE_WORDING` is the client's short one (``left (timed out)``, ``left the room``),
:data:`LAB_LEAVE_WORDING` is the lab chat server's (``left the conversation unexpectedly``),
which the plain-text dialect keeps for its users and for the lab client, and which
``docs/protocol.md`` documents. Both take the cause from :func:`leave_cause`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from .messages import LeaveReason

#: Names a :func:`people_here` list spells out before it says "and N more": enough to see who
#: is around, few enough that a welcome to a crowded room stays a line one can read.
NAMES_SHOWN: Final = 20

# The cause of each departure the user did not choose, as a few words that read well after
# "left (" and on their own. Quitting and leaving a room have no cause to give.
_CAUSES: Final[Mapping[str, str]] = MappingProxyType(
    {
        LeaveReason.DROPPED: "connection lost",
        LeaveReason.TIMEOUT: "timed out",
        LeaveReason.TOO_SLOW: "too slow to keep up",
        LeaveReason.FLOOD: "cut off for flooding",
        LeaveReason.KICKED: "kicked",
        LeaveReason.SHUTDOWN: "server shutting down",
    }
)

_BY_CHOICE: Final = frozenset({LeaveReason.QUIT, LeaveReason.PART})


def leave_cause(reason: str) -> str | None:
    """Why someone left, in a few words (``"timed out"``), or ``None`` if they chose to.

    ``reason`` is a ``left`` or ``bye`` frame's reason: a :class:`LeaveReason`, or any other
    string, since a newer server may add reasons. A reason this module does not know is its
    own cause, shown as it is (``"banned"`` gives ``"banned"``); ``LeaveReason.QUIT`` and
    ``LeaveReason.PART`` give ``None``.
    """
    if reason in _BY_CHOICE:
        return None
    return _CAUSES.get(reason, reason)


@dataclass(frozen=True, slots=True)
class LeaveWording:
    """One way of telling people that someone left: the phrase that follows their name.

    A departure by choice is :attr:`left` (quit) or :attr:`parted` (left one room, still
    connected); any other is :attr:`left` followed by its :func:`leave_cause` in parentheses,
    unless :attr:`phrases` words that reason its own way.
    """

    #: What quitting is called, and the start of every phrase with a cause: ``"left"``.
    left: str
    #: What leaving one room (``LeaveReason.PART``) is called.
    parted: str
    #: Whole phrases for the reasons this wording says differently from ``left (cause)``.
    phrases: Mapping[str, str]

    def phrase(self, reason: str) -> str:
        """What follows the name of someone who left for ``reason``: ``"left (timed out)"``.

        Any string is accepted: a reason unknown here is shown as its own cause
        (``"left (banned)"``), as :func:`leave_cause` explains.
        """
        whole = self.phrases.get(reason)
        if whole is not None:
            return whole
        if reason == LeaveReason.QUIT:
            return self.left
        if reason == LeaveReason.PART:
            return self.parted
        return f"{self.left} ({_CAUSES.get(reason, reason)})"


#: The terminal client's wording, for a log that shows one room or one person:
#: ``left``, ``left the room``, ``left (connection lost)``, ``left (timed out)``...
LOG_LEAVE_WORDING: Final = LeaveWording(
    left="left", parted="left the room", phrases=MappingProxyType({})
)

#: The lab chat server's wording, which plain-text users and the lab client know (and
#: ``docs/protocol.md`` documents): ``left the conversation``, for leaving by choice too (a
#: plain-text user sees one room), ``left the conversation unexpectedly`` for a dropped
#: connection, ``left the conversation (timed out)`` and the like for the other causes.
LAB_LEAVE_WORDING: Final = LeaveWording(
    left="left the conversation",
    parted="left the conversation",
    phrases=MappingProxyType(
        {
            LeaveReason.DROPPED: "left the conversation unexpectedly",
            LeaveReason.FLOOD: "left the conversation (flooding)",
        }
    ),
)


def people_here(names: Sequence[str], total: int = 0, *, verb: str = "here") -> str:
    """How many people there are and who: ``"5 here: ann, bo, cy and 2 more"``.

    The first :data:`NAMES_SHOWN` of ``names`` are spelled out in the order given, the rest
    counted. ``total`` is how many people there are when ``names`` lists only some of them (a
    server's ``welcome`` names the first few and counts everyone in ``online``); a ``total``
    below ``len(names)`` is ignored. ``verb`` takes the place of ``"here"``
    (``"3 online: ..."``). With no names at all nothing follows the colon (``"0 here: "``).
    """
    total = max(total, len(names))
    listed = min(len(names), NAMES_SHOWN)
    shown = ", ".join(names[:listed])
    if total > listed:
        shown += f" and {total - listed} more"
    return f"{total} {verb}: {shown}"
