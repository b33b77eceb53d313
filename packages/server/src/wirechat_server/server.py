"""The listening server: accepts connections, keeps the registry of live ones, runs the timers,
and shuts down in a fixed order.

Shutdown order (idempotent, as in uvicorn and aiohttp): stop accepting and stop reading; let the
message store commit what it was given (those messages are then acked and relayed); deliver what
the chat still owes; tell every client ``bye`` with reason ``shutdown`` and close it once its
output is flushed; wait up to ``shutdown_timeout`` for them to go; abort whoever is left.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
import weakref
from collections.abc import Callable
from typing import Final, Literal, cast

from wirechat_common import ErrorCode

from . import __version__
from .admission import Admission, Refusal
from .config import ServerConfig
from .connection import Connection
from .core import ChatCore, ChatSettings
from .dialects.detect import SERVED_DIALECTS
from .heap import HeapTrimmer
from .ratelimit import TokenBucket
from .refusals import RefusalLog
from .storage.sqlite import MessageStore, StoreError
from .transports.tcp import listen_tcp

log: Final = logging.getLogger("wirechat.server")

#: Seconds between saves of the sessions in use (see ``_sweep``): short next to session_ttl.
SESSION_SAVE_INTERVAL: Final = 600.0


def server_version() -> str:
    """What the welcome's ``server`` field says: ``wirechat/`` and the release."""
    return f"wirechat/{__version__}"


class ListenerHost:
    """One listener's side of the server, as its connections see it (connection.Host): the
    server's settings, core and loop, and which dialects this listener serves."""

    __slots__ = ("config", "core", "loop", "origins", "served", "server")

    def __init__(self, server: ChatServer, served: frozenset[str] | None) -> None:
        self.server = server
        self.config = server.config
        self.origins = server.admission.origins
        self.core = server.core
        self.loop = server.loop
        self.served = served

    def admit(self, connection: Connection, address: str) -> Refusal | None:
        return self.server.admit(connection, address)

    def budget_of(self, user_key: str) -> TokenBucket:
        return self.server.budget_of(user_key)

    def forget(self, connection: Connection, address: str) -> None:
        self.server.forget(connection, address)


def check_listeners(config: ServerConfig) -> None:
    """Raise ``ValueError`` if a listener names a dialect this server does not speak."""
    for spec in config.listeners:
        unknown = (spec.dialects or frozenset[str]()) - SERVED_DIALECTS
        if unknown:
            raise ValueError(
                f"listener {spec}: no dialect called {', '.join(sorted(unknown))} "
                f"(this server speaks {', '.join(sorted(SERVED_DIALECTS))})"
            )


class ChatServer:
    """A wirechat server on one TCP port. ``await start()``, later ``await shutdown()``."""

    def __init__(
        self,
        config: ServerConfig | None = None,
        *,
        store_hook: Callable[[int], None] | None = None,
    ) -> None:
        """``store_hook``, for tests: called on the store's writer thread with the batch size
        before each commit (raise to fail the batch, sleep to slow the disk down)."""
        self.config = config = config or ServerConfig()
        check_listeners(config)
        self.loop = asyncio.get_running_loop()
        self.store: MessageStore | None = None
        if config.storage == "sqlite":
            self.store = MessageStore(
                config.database,
                synchronous=cast("Literal['FULL', 'NORMAL']", config.storage_sync.upper()),
                max_pending=config.write_queue,
                idempotency_window_s=config.idempotency_window,
                max_history=config.max_history,
                before_commit=store_hook,
                coalesce_delay=config.coalesce_delay,
                max_bytes=config.max_store_bytes,
                min_free=config.min_free_disk,
            )
        self.core = ChatCore(
            loop=self.loop,
            coalesce_delay=config.coalesce_delay,
            log=self.store,
            settings=ChatSettings.from_config(config, server_name=server_version()),
            warn=log.warning,
        )
        if self.store is None:
            # No store to remember the last id: start from the clock (ms x 1000, well within
            # 2**53), so ids keep growing across restarts and clients' resume cursors hold.
            self.core.resume_ids(time.time_ns() // 1_000_000 * 1000)
        self._retention: asyncio.Task[None] | None = None
        self.connections: set[Connection] = set()
        self.admission = Admission(self.config)
        self.refusals = RefusalLog(log)
        # Each user's rate budget, kept while one of its connections holds it.
        self._budgets: weakref.WeakValueDictionary[str, TokenBucket] = weakref.WeakValueDictionary()
        self.heap = HeapTrimmer()
        self._listeners: list[asyncio.Server] = []
        self._sweeper: asyncio.Task[None] | None = None
        self._all_gone = asyncio.Event()
        self._all_gone.set()
        self._stopping = False
        self._stopped = asyncio.Event()

    @property
    def address(self) -> tuple[str, int]:
        """The (host, port) actually listened on for ``host``:``port`` (useful with port 0)."""
        return self.addresses[0]

    @property
    def addresses(self) -> list[tuple[str, int]]:
        """The (host, port) of every listener, in the order of ``config.listeners``."""
        if not self._listeners or not all(listener.sockets for listener in self._listeners):
            raise RuntimeError("the server is not listening (not started, or shut down)")
        return [listener.sockets[0].getsockname()[:2] for listener in self._listeners]

    async def start(self) -> None:
        """Open the message store, listen, and start the timers.

        Raises :class:`~.storage.model.StoreError` if the message database cannot be opened.
        """
        if self.store is not None:
            try:
                self.config.database.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"cannot create {self.config.database.parent}: {exc}") from exc
            await self.store.start()
            self.core.resume_ids(self.store.last_id)
            config = self.config
            since_ms = int((time.time() - config.session_ttl) * 1000)
            self.core.restore_sessions(
                await self.store.load_sessions(since_ms, config.max_sessions)
            )
            log.info("message store %s (last id %d)", self.store.path, self.store.last_id)
        config = self.config
        try:
            for spec in config.listeners:
                try:
                    listener = await listen_tcp(
                        self.loop,
                        functools.partial(Connection, ListenerHost(self, spec.dialects)),
                        spec.host,
                        spec.port,
                        keepalive=(
                            config.keepalive_idle,
                            config.keepalive_interval,
                            config.keepalive_count,
                        ),
                        send_buffer=config.socket_send_buffer,
                    )
                except OSError as exc:
                    raise OSError(exc.errno, f"{spec}: {exc.strerror or exc}") from exc
                self._listeners.append(listener)
        except BaseException:
            for listener in self._listeners:
                listener.close()
            self._listeners.clear()
            if self.store is not None:
                await self.store.close()
            raise
        config = self.config
        if self.store is not None and (config.retention_days or config.retention_per_room):
            self._retention = asyncio.create_task(self._retain(), name="wirechat-retention")
        self._sweeper = asyncio.create_task(self._sweep(), name="wirechat-sweeper")
        for spec, (host, port) in zip(config.listeners, self.addresses, strict=True):
            served = "+".join(sorted(spec.dialects)) if spec.dialects is not None else "all"
            log.info("listening on %s:%d (dialects: %s)", host, port, served)

    def admit(self, connection: Connection, address: str) -> Refusal | None:
        """Take ``connection`` from ``address`` into the registry, or say why not."""
        if self._stopping:
            return Refusal(ErrorCode.SERVER_FULL, "the server is shutting down")
        now = self.loop.time()
        refusal = self.admission.admit(address, now)
        if refusal is None:
            self.heap.note_change()
            self.connections.add(connection)
            self._all_gone.clear()
        else:
            self.refusals.refused(address, refusal.code, refusal.detail, now)
        return refusal

    def budget_of(self, user_key: str) -> TokenBucket:
        """The request rate budget shared by user ``user_key``'s connections (``msg_burst``,
        ``msg_rate``, ``flood_backlog``, as one connection's)."""
        budget = self._budgets.get(user_key)
        if budget is None:
            config = self.config
            budget = TokenBucket(
                config.msg_burst, config.msg_rate, config.flood_backlog, self.loop.time()
            )
            self._budgets[user_key] = budget
        return budget

    def forget(self, connection: Connection, address: str) -> None:
        """``connection`` from ``address`` is gone for good."""
        if connection in self.connections:
            self.heap.note_change()
            self.connections.remove(connection)
            self.admission.release(address)
        if not self.connections:
            self._all_gone.set()

    async def _sweep(self) -> None:
        # One periodic pass over all connections is far cheaper than a timer per connection
        # re-armed on every message: O(connections) per interval, nothing per message.
        interval = self.config.sweep_interval
        sessions_saved = self.loop.time()
        while True:
            await asyncio.sleep(interval)
            now = self.loop.time()
            self.admission.prune(now)
            self.refusals.report(now)
            if now - sessions_saved > SESSION_SAVE_INTERVAL:
                # Sessions in use are saved as seen now, so that one connected for longer than
                # session_ttl is still valid after a crash.
                sessions_saved = now
                self.core.save_sessions()
            for connection in list(self.connections):
                try:
                    connection.check_timers(now)
                except Exception:  # pragma: no cover - never let one connection stop the sweep
                    log.exception("timer check failed for %s", connection.peer)
            took = self.heap.maybe_trim()
            if took is not None:
                log.debug("heap trimmed in %.1f ms", took * 1000)

    async def _retain(self) -> None:
        while True:
            await asyncio.sleep(self.config.retention_interval)
            await self.retention_pass()

    async def retention_pass(self) -> int:
        """Apply ``retention_days`` and ``retention_per_room`` once; return how many messages
        went. Runs on the store's writer in short steps between batches: never a stall."""
        config = self.config
        if self.store is None or not (config.retention_days or config.retention_per_room):
            return 0
        try:
            deleted = await self.store.apply_retention(
                config.retention_days * 86_400 or None, config.retention_per_room or None
            )
        except StoreError as exc:
            log.warning("retention failed: %s", exc)
            return 0
        if deleted:
            log.info("retention deleted %d messages", deleted)
        return deleted

    async def shutdown(self) -> None:
        """Stop serving; safe to call more than once."""
        if self._stopping:
            await self._stopped.wait()
            return
        self._stopping = True
        log.info("shutting down: %d connections", len(self.connections))
        for listener in self._listeners:
            listener.close()
        for task in (self._sweeper, self._retention):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        for connection in self.connections:
            connection.stop_reading()
        self.core.save_sessions()  # as seen now: a restart finds them fresh
        if self.store is not None:
            # Messages already handed to the store are committed, then acked and relayed.
            await self.store.close()
            await asyncio.sleep(0)  # let the last done-callbacks run
        self.core.bus.flush()
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
        for listener in self._listeners:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(listener.wait_closed(), 1.0)
        self._stopped.set()
        log.info("stopped")
