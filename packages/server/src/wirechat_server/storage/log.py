"""The message log: what the chat core relies on from whatever stores its messages.

:class:`~.sqlite.MessageStore` (SQLite, in this process) is the first implementation; a shared
engine (PostgreSQL) would be another, beside it. The core knows only this interface and the
store's vocabulary (:mod:`.model`), so importing the core loads no database driver, no
thread and no event loop.

The promises the core is built on, which every implementation keeps:

1. **Durable before visible.** A submission's result arrives only once the message is stored
   (committed); the core relays and acknowledges it only then, so nothing anyone has seen is
   lost to a crash.
2. **Ids.** Each stored message gets an id greater than every id stored before it, in any
   conversation, never reused (not after retention, not across restarts): the cursors clients
   resume from rely on it.
3. **Order of results.** Results are delivered in id order, on the event loop's thread: relaying
   from them keeps every room's stream in id order.
4. **Idempotency.** A submission with the ``client_id`` of one already stored for the same
   sender within the idempotency window, whose id is above ``fresh_after``, stores nothing: its
   result is the original message with ``duplicate`` set.
5. **Refusals are immediate.** ``submit`` raises :class:`~.model.StoreBusy` when too many
   submissions wait, :class:`~.model.StoreFull` when there is no room for more messages (reads
   go on) and :class:`~.model.StoreUnavailable` when the log is not usable; a
   commit that fails later fails its result with ``StoreUnavailable`` and stores nothing of it.
6. **Pages** see committed messages only, oldest first, as a :class:`~.model.PageQuery`
   asks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from .model import AppendResult, PageQuery, SessionRow, StoredMessage

T_co = TypeVar("T_co", covariant=True)


class Outcome(Protocol[T_co]):
    """A result to come (an asyncio future is one): the core only attaches a callback to it."""

    def add_done_callback(self, fn: Callable[[Any], object], /) -> None: ...

    def result(self) -> T_co: ...


class MessageLog(Protocol):
    """Stores messages and sessions and reads pages back, keeping the promises above."""

    @property
    def last_id(self) -> int:
        """The highest id stored so far."""
        ...

    @property
    def pending(self) -> int:
        """Submissions whose result has not arrived yet."""
        ...

    def submit(
        self,
        room: str,
        sender: str,
        sender_key: str,
        text: str,
        *,
        action: bool = False,
        client_id: str | None = None,
        fresh_after: int = 0,
    ) -> Outcome[AppendResult]:
        """Store a message of ``room`` (a room key, or a conversation key of direct messages)."""
        ...

    def pages(self, queries: list[PageQuery]) -> Outcome[list[list[StoredMessage]]]:
        """Read several pages at once."""
        ...

    def save_session(self, row: SessionRow, *, expire_before_ms: int) -> None:
        """Save a session with the next commit, dropping those last seen before the expiry."""
        ...
