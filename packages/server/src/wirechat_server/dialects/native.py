"""The native dialect: the JSON frames of ``wirechat_common``, one per line.

Requests are the protocol's own messages, so translating is the identity; the codec has already
validated every field, names and text included. What is native's own is the count of frames a
client may send before its ``hello`` succeeds, and answering pings, which makes the client's
liveness checkable.
"""

from __future__ import annotations

from typing import Final

from wirechat_common import (
    AnyMessage,
    ClientMessage,
    Decoder,
    ErrorCode,
    Ping,
    ProtocolError,
    encode,
)

from ..config import ServerConfig


class NativeWire:
    """Native clients see every event as its JSON frame."""

    __slots__ = ()

    def render(self, event: AnyMessage) -> bytes:
        return encode(event)

    def __repr__(self) -> str:
        return "native"


NATIVE: Final = NativeWire()


class NativeDialect:
    """One native client's side of the conversation."""

    __slots__ = ("_config", "_decoder", "_frames_before_register")
    kind: Final = "native"
    wire: Final = NATIVE
    retries_hello: Final = True
    recent_on_welcome: Final = None

    def __init__(self, config: ServerConfig) -> None:
        self._decoder = Decoder(
            config.max_frame_bytes, max_text_bytes=config.max_text_bytes, types=ClientMessage
        )
        self._config = config
        #: Frames counted until the hello succeeds; -1 once it has.
        self._frames_before_register = 0

    def receive(self, data: bytes) -> None:
        self._decoder.receive_data(data)

    def next_request(self) -> AnyMessage | None:
        """The next decoded request, or ``None``; raises ``ProtocolError`` for a bad frame."""
        if self._frames_before_register < 0:
            return self._decoder.next_message()
        try:
            message = self._decoder.next_message()
        except ProtocolError:
            self._count_unregistered_frame()
            raise
        if message is not None:
            self._count_unregistered_frame()
        return message

    def pending_requests(self) -> int:
        return self._decoder.complete_frames()

    def translate(self, raw: object) -> AnyMessage:
        return raw  # type: ignore[return-value]  # next_request gave a decoded ClientMessage

    def _count_unregistered_frame(self) -> None:
        self._frames_before_register += 1
        limit = self._config.pre_register_max_frames
        if self._frames_before_register > limit:
            raise ProtocolError(
                ErrorCode.REGISTER_ABUSE,
                f"more than {limit} frames without a successful hello",
                fatal=True,
            )

    def registered(self) -> None:
        self._frames_before_register = -1

    def incomplete_wait(self) -> None:
        return None  # a frame ends with its newline; the frame limit bounds the wait

    def stalled(self) -> None:
        """Never called: :meth:`incomplete_wait` asks for no wait."""

    def probe(self, now: float) -> AnyMessage:
        return Ping(token=str(int(now)))
