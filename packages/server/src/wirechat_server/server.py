"""The listening server: accepts connections, keeps the registry of live ones, runs the timers,
and shuts down in a fixed order.

Shutdown order (idempotent, as in uvicorn and aiohttp): stop accepting; deliver what the chat
still owes; tell every client ``bye`` with reason ``shutdown`` and close it once its output is
flushed; wait up to ``shutdown_timeout`` for them to go; abort whoever is left.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from importlib.metadata import PackageNotFoundError, version
from typing import Final

from wirechat_common import ErrorCode

from .admission import Admission, Refusal
from .chat import AnnouncedLimits, ChatCore
from .config import ServerConfig
from .connection import Connection

log: Final = logging.getLogger("wirechat.server")

#: Pending connections the kernel queues before accept: enough for a crowd reconnecting at once
#: after a restart (the kernel caps it at net.core.somaxconn).
LISTEN_BACKLOG: Final = 1024


def server_version() -> str:
    try:
        return f"wirechat/{version('wirechat-server')}"
    except PackageNotFoundError:  # pragma: no cover - running from a bare source tree
        return "wirechat"


class ChatServer:
    """A wirechat server on one TCP port. ``await start()``, later ``await shutdown()``."""

    def __init__(self, config: ServerConfig | None = None) -> None:
        self.config = config or ServerConfig()
        self.loop = asyncio.get_running_loop()
        self.core = ChatCore(
            schedule=self.loop.call_soon,
            server_name=server_version(),
            limits=AnnouncedLimits(
                max_text_bytes=self.config.max_text_bytes,
                max_frame_bytes=self.config.max_frame_bytes,
                msg_burst=self.config.msg_burst,
                msg_rate=self.config.msg_rate,
            ),
        )
        self.connections: set[Connection] = set()
        self.admission = Admission(self.config)
        self._listener: asyncio.Server | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._all_gone = asyncio.Event()
        self._all_gone.set()
        self._stopping = False
        self._stopped = asyncio.Event()

    @property
    def address(self) -> tuple[str, int]:
        """The (host, port) actually listened on (useful with port 0)."""
        if self._listener is None or not self._listener.sockets:
            raise RuntimeError("the server is not listening (not started, or shut down)")
        host, port = self._listener.sockets[0].getsockname()[:2]
        return host, port

    async def start(self) -> None:
        """Listen, and start the timer sweep."""
        self._listener = await self.loop.create_server(
            lambda: Connection(self),
            self.config.host,
            self.config.port,
            backlog=LISTEN_BACKLOG,
            reuse_address=True,
        )
        self._sweeper = asyncio.create_task(self._sweep(), name="wirechat-sweeper")
        host, port = self.address
        log.info("listening on %s:%d", host, port)

    def admit(self, connection: Connection, address: str) -> Refusal | None:
        """Take ``connection`` from ``address`` into the registry, or say why not."""
        if self._stopping:
            return Refusal(ErrorCode.SERVER_FULL, "the server is shutting down")
        refusal = self.admission.admit(address, self.loop.time())
        if refusal is None:
            self.connections.add(connection)
            self._all_gone.clear()
        return refusal

    def forget(self, connection: Connection, address: str) -> None:
        """``connection`` from ``address`` is gone for good."""
        if connection in self.connections:
            self.connections.remove(connection)
            self.admission.release(address)
        if not self.connections:
            self._all_gone.set()

    async def _sweep(self) -> None:
        # One periodic pass over all connections is far cheaper than a timer per connection
        # re-armed on every message: O(connections) per interval, nothing per message.
        interval = self.config.sweep_interval
        while True:
            await asyncio.sleep(interval)
            now = self.loop.time()
            self.admission.prune(now)
            for connection in list(self.connections):
                try:
                    connection.check_timers(now)
                except Exception:  # pragma: no cover - never let one connection stop the sweep
                    log.exception("timer check failed for %s", connection.peer)

    async def wait_stopped(self) -> None:
        """Return once :meth:`shutdown` has finished."""
        await self._stopped.wait()

    async def shutdown(self) -> None:
        """Stop serving; safe to call more than once."""
        if self._stopping:
            await self._stopped.wait()
            return
        self._stopping = True
        log.info("shutting down: %d connections", len(self.connections))
        if self._listener is not None:
            self._listener.close()
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        self.core.flush()
        for connection in list(self.connections):
            connection.shutdown()
        try:
            await asyncio.wait_for(self._all_gone.wait(), self.config.shutdown_timeout)
        except TimeoutError:
            stragglers = list(self.connections)
            log.warning("aborting %d connections that did not close in time", len(stragglers))
            for connection in stragglers:
                if connection.transport is not None:
                    connection.transport.abort()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._all_gone.wait(), 1.0)
        if self._listener is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._listener.wait_closed(), 1.0)
        self._stopped.set()
        log.info("stopped")
