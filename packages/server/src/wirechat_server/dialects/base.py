"""The shape every dialect has (see the package docstring)."""

from __future__ import annotations

from typing import Protocol

from wirechat_common import AnyMessage

from ..bus import WireFormat


class Dialect(Protocol):
    """One connection's translator between its bytes and chat requests and events.

    The connection calls, in this order for each request: :meth:`next_request` (a raw request
    split off the input, or ``None`` when there is none yet), the rate limit, then
    :meth:`translate` (the chat request it means, or ``None`` for one that asks for nothing).
    Both raise :class:`~wirechat_common.ProtocolError` for input the dialect refuses.
    """

    @property
    def kind(self) -> str:
        """A short name for logs ("native", "plain")."""
        ...

    @property
    def wire(self) -> WireFormat:
        """How chat events look to this dialect's clients: one object per dialect, shared by
        all its connections, so that fan-out renders each event once per dialect in use."""
        ...

    @property
    def retries_hello(self) -> bool:
        """Whether a client whose ``hello`` is refused may try another (a plain-text client
        sends its name once and cannot: the refusal ends it)."""
        ...

    @property
    def recent_on_welcome(self) -> int | None:
        """How many recent messages of each room the welcome shows, instead of the server's
        ``history_on_join`` (``None``: that setting)."""
        ...

    def receive(self, data: bytes) -> None:
        """Take bytes the client sent."""
        ...

    def next_request(self) -> object | None:
        """The next raw request, or ``None``; raises ``ProtocolError`` for input refused."""
        ...

    def pending_requests(self) -> int:
        """Complete requests waiting to be pulled (for the flood rule)."""
        ...

    def translate(self, raw: object) -> AnyMessage | None:
        """The chat request ``raw`` means (``None``: nothing to do); raises ``ProtocolError``."""
        ...

    def registered(self) -> None:
        """The client's ``hello`` was accepted."""
        ...

    def incomplete_wait(self) -> float | None:
        """Seconds after which input that forms no request yet should be taken as it is (see
        :meth:`stalled`), or ``None`` to wait for more however long it takes."""
        ...

    def stalled(self) -> None:
        """No more bytes came within :meth:`incomplete_wait`: take what there is, if anything."""
        ...

    def probe(self, now: float) -> AnyMessage | None:
        """Liveness: what to send a silent client to learn whether it is still there, or
        ``None`` if this dialect cannot answer (then TCP keepalive watches it)."""
        ...
