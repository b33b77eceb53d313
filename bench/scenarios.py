"""The scenarios: what load each one puts on a server, and what it measures.

- ``fanout-1k-sat``: one room, 5 senders as fast as a bounded window allows: deliveries/s,
  server CPU and peak RSS, loss.
- ``fanout-1k``: the same room at 200 messages/s in total: latency percentiles, loss.
- ``idle-10k``: many registered idle connections: how many succeed, server RSS.
"""

from __future__ import annotations

import asyncio
import contextlib
import resource
import statistics
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Final

import psutil

from .dialects import DIALECTS, Dialect, IrcIdle
from .load import Client, Sender, connect_all, drain

#: Generator CPU time over wall time above which its numbers are not trusted: it, not the
#: server, may have been the limit.
SATURATED: Final = 0.9
MIB: Final = 1024 * 1024
#: Receivers that record the latency of every message they get in the paced scenario.
TIMING_RECEIVERS: Final = 50


@dataclass
class Sizes:
    """How big a run is; the smoke run shrinks everything."""

    clients: int = 1000
    senders: int = 5
    duration: float = 10.0
    idle_clients: int = 10_000
    paced_rate: float = 200.0
    window: int = 400  # messages in flight per sender when saturating
    payload: int = 64  # characters of text per message


@dataclass
class Result:
    scenario: str
    server: str
    clients: int
    registered: int
    metrics: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    #: Which round of a ``--repeat`` run this is (1 for a single run).
    round: int = 1


class ServerProbe:
    """Samples the server process's CPU time and resident memory."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.peak_rss = 0
        self._task: asyncio.Task[None] | None = None

    def cpu_seconds(self) -> float:
        times = self.process.cpu_times()
        return float(times.user + times.system)

    def rss(self) -> int:
        value: int = self.process.memory_info().rss
        self.peak_rss = max(self.peak_rss, value)
        return value

    @contextlib.asynccontextmanager
    async def sampling(self, every: float = 0.1) -> AsyncIterator[None]:
        async def sample() -> None:
            while True:
                self.rss()
                await asyncio.sleep(every)

        self._task = asyncio.create_task(sample())
        try:
            yield
        finally:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


def _generator_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _room(
    port: int, dialect: Dialect, sizes: Sizes, result: Result, batch: int
) -> list[Client]:
    nicks = [f"u{i}" for i in range(sizes.clients - sizes.senders)]
    nicks += [f"s{i}" for i in range(sizes.senders)]
    clients, failed = await connect_all(port, dialect, nicks, batch)
    result.registered = len(clients)
    if failed:
        result.notes.append(f"{failed} clients failed to register")
    return clients


def _split(clients: list[Client]) -> tuple[list[Client], list[Client]]:
    receivers = [client for client in clients if client.nick.startswith("u")]
    senders = [client for client in clients if client.nick.startswith("s")]
    return receivers, senders


def _close(clients: list[Client]) -> None:
    for client in clients:
        client.close()


async def fanout(
    server: str, dialect_name: str, pid: int, port: int, sizes: Sizes, *, paced: bool, batch: int
) -> Result:
    """Run a fan-out scenario against a server already listening on ``port``."""
    scenario = "fanout-1k" if paced else "fanout-1k-sat"
    result = Result(scenario, server, sizes.clients, 0)
    clients = await _room(port, DIALECTS[dialect_name], sizes, result, batch)
    receivers, sender_clients = _split(clients)
    if len(sender_clients) < sizes.senders or len(receivers) < sizes.senders:
        result.notes.append("not enough clients registered to run")
        _close(clients)
        return result
    senders = [
        Sender(client, index, receivers[index], sizes.payload)
        for index, client in enumerate(sender_clients)
    ]
    # Timing receivers are spread over the join order: a server that writes to members in join
    # order reaches early joiners first, and sampling only those would flatter it.
    candidates = receivers[sizes.senders :]
    step = max(1, len(candidates) // TIMING_RECEIVERS)
    timing = candidates[::step][:TIMING_RECEIVERS] if paced else []
    for client in timing:
        client.latencies = []
    probe = ServerProbe(pid)
    loop = asyncio.get_running_loop()
    start_count = sum(client.delivered for client in receivers)
    start_chunks = sum(client.chunks for client in receivers)
    cpu_server, cpu_generator, started = probe.cpu_seconds(), _generator_cpu(), loop.time()
    until = started + sizes.duration
    async with probe.sampling():
        if paced:
            each = sizes.paced_rate / len(senders)
            await asyncio.gather(*(sender.paced(until, each) for sender in senders))
        else:
            await asyncio.gather(*(sender.saturate(until, sizes.window) for sender in senders))
        window_count = sum(client.delivered for client in receivers) - start_count
        elapsed = loop.time() - started
        cpu_generator = _generator_cpu() - cpu_generator
        sent = sum(sender.sent for sender in senders)
        expected = sent * len(receivers)
        delivered = await drain(receivers, start_count + expected) - start_count
        cpu_server = probe.cpu_seconds() - cpu_server
    lost_clients = sum(1 for client in clients if client.lost.done())
    metrics = result.metrics
    metrics["sent"] = sent
    metrics["expected"] = expected
    metrics["delivered"] = delivered
    metrics["loss"] = max(0, expected - delivered)
    metrics["deliveries_per_s"] = round(window_count / elapsed)
    metrics["server_cpu_s"] = round(cpu_server, 2)
    metrics["server_peak_rss_mib"] = round(probe.peak_rss / MIB, 1)
    metrics["generator_cpu"] = round(cpu_generator / elapsed, 2)
    chunks = sum(client.chunks for client in receivers) - start_chunks
    if chunks:
        metrics["deliveries_per_read"] = round(delivered / chunks, 2)
    if lost_clients:
        result.notes.append(f"{lost_clients} clients were disconnected during the run")
    if cpu_generator / elapsed > SATURATED:
        result.notes.append("generator saturated: the number is a floor, not the server's limit")
    if paced:
        samples = sorted(value for client in timing for value in (client.latencies or []))
        if samples:
            metrics["latency_p50_ms"] = round(_percentile(samples, 50) / 1e6, 2)
            metrics["latency_p99_ms"] = round(_percentile(samples, 99) / 1e6, 2)
            metrics["latency_p999_ms"] = round(_percentile(samples, 99.9) / 1e6, 2)
            metrics["latency_samples"] = len(samples)
            metrics["latency_mean_ms"] = round(statistics.fmean(samples) / 1e6, 2)
    _close(clients)
    return result


def _percentile(sorted_values: list[int], percent: float) -> float:
    index = min(len(sorted_values) - 1, round(percent / 100 * (len(sorted_values) - 1)))
    return float(sorted_values[index])


async def idle(
    server: str, dialect_name: str, pid: int, port: int, sizes: Sizes, batch: int
) -> Result:
    """Register ``sizes.idle_clients`` connections and measure the server's memory."""
    result = Result("idle-10k", server, sizes.idle_clients, 0)
    dialect: Dialect = IrcIdle("irc-idle") if dialect_name == "irc" else DIALECTS[dialect_name]
    probe = ServerProbe(pid)
    baseline = probe.rss()
    started = time.monotonic()
    nicks = [f"i{i}" for i in range(sizes.idle_clients)]
    clients, failed = await connect_all(port, dialect, nicks, batch)
    result.metrics["connect_s"] = round(time.monotonic() - started, 1)
    await asyncio.sleep(1.0)  # let the server settle before reading its memory
    still = sum(1 for client in clients if not client.lost.done())
    result.registered = still
    rss = probe.rss()
    result.metrics["server_rss_mib"] = round(rss / MIB, 1)
    result.metrics["server_rss_before_mib"] = round(baseline / MIB, 1)
    if still:
        result.metrics["kib_per_connection"] = round((rss - baseline) / still / 1024, 1)
    if failed:
        result.notes.append(f"{failed} connections failed to register")
    _close(clients)
    return result
