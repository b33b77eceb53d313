"""The scenarios: what load each one puts on a server, and what it measures.

- ``fanout-1k-sat``: one room, 5 senders as fast as a bounded window allows: deliveries/s,
  server CPU and peak RSS, loss.
- ``fanout-1k``: the same room at 200 messages/s in total (200,000 deliveries/s): latency
  percentiles of every delivery to every receiver, loss.
- ``fanout-1k-500k``: the same at 500 messages/s (500,000 deliveries/s).
- ``idle-10k``: many registered idle connections: how many succeed, server RSS.

The fan-out scenarios run the C generator (:mod:`.cgen`); idle-10k uses the Python clients of
:mod:`.load`, since there nothing but the server is busy.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Final

import psutil

from . import cgen
from .dialects import DIALECTS
from .load import connect_all

#: Generator CPU time over wall time above which its numbers are not trusted: it, not the
#: server, may have been the limit.
SATURATED: Final = 0.9
MIB: Final = 1024 * 1024
#: Messages per second, from all senders together, of each paced scenario (the others
#: saturate).
PACED_RATES: Final = {"fanout-1k": 200.0, "fanout-1k-500k": 500.0}


@dataclass
class Sizes:
    """How big a run is; the smoke run shrinks everything."""

    clients: int = 1000
    senders: int = 5
    duration: float = 10.0
    idle_clients: int = 10_000
    #: Scales the paced scenarios' rates (the smoke run goes slower).
    paced_scale: float = 1.0
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


async def fanout(
    server: str,
    dialect_name: str,
    pid: int,
    port: int,
    sizes: Sizes,
    *,
    scenario: str,
    batch: int,
    cpu: int | None = None,
) -> Result:
    """Run a fan-out scenario against a server already listening on ``port``, with the C
    generator (:mod:`.cgen`) pinned to ``cpu``."""
    rate = PACED_RATES.get(scenario, 0.0) * sizes.paced_scale
    result = Result(scenario, server, sizes.clients, 0)
    args = cgen.arguments(
        port,
        dialect_name,
        clients=sizes.clients,
        senders=sizes.senders,
        duration=sizes.duration,
        rate=rate,
        window=sizes.window,
        payload=sizes.payload,
        batch=batch,
    )
    probe = ServerProbe(pid)
    cpu_at_go: list[float] = []
    async with probe.sampling():
        ready, outcome = await cgen.run(
            args, cpu=cpu, at_go=lambda: cpu_at_go.append(probe.cpu_seconds())
        )
        cpu_server = probe.cpu_seconds() - cpu_at_go[0]
    result.registered = int(ready["registered"])
    if result.registered < sizes.clients:
        result.notes.append(f"{sizes.clients - result.registered} clients failed to register")
        result.notes.append("not enough clients registered to run")
        return result
    metrics = result.metrics
    elapsed = float(outcome["elapsed_s"])
    metrics["sent"] = outcome["sent"]
    metrics["expected"] = outcome["expected"]
    metrics["delivered"] = outcome["delivered"]
    metrics["loss"] = max(0, outcome["expected"] - outcome["delivered"])
    metrics["deliveries_per_s"] = round(outcome["window_deliveries"] / elapsed)
    metrics["server_cpu_s"] = round(cpu_server, 2)
    metrics["server_peak_rss_mib"] = round(probe.peak_rss / MIB, 1)
    metrics["generator_cpu"] = round(outcome["generator_cpu_s"] / elapsed, 2)
    if outcome["reads"]:
        metrics["deliveries_per_read"] = round(outcome["delivered"] / outcome["reads"], 2)
    if outcome["gaps"] or outcome["duplicates"]:
        result.notes.append(
            f"out of order: {outcome['gaps']} skipped, {outcome['duplicates']} repeated"
        )
    if outcome["lost_clients"]:
        result.notes.append(f"{outcome['lost_clients']} clients were disconnected during the run")
    if outcome["generator_cpu_s"] / elapsed > SATURATED:
        result.notes.append("generator saturated: the number is a floor, not the server's limit")
    latency = outcome.get("latency_ms")
    if rate and latency:
        metrics["latency_p50_ms"] = round(latency["p50"], 2)
        metrics["latency_p99_ms"] = round(latency["p99"], 2)
        metrics["latency_p999_ms"] = round(latency["p999"], 2)
        metrics["latency_max_ms"] = round(latency["max"], 2)
        metrics["latency_mean_ms"] = round(latency["mean"], 2)
        metrics["latency_samples"] = outcome["samples"]
        # What the generator's clients saw at their reads, and the generator's own share of it
        # (arrival to read): the headline figures above stop at the arrival, so the
        # generator's speed does not count against a server, but this shows by how much.
        if "at_read_ms" in outcome:
            metrics["read_p99_ms"] = round(outcome["at_read_ms"]["p99"], 2)
        if "generator_delay_ms" in outcome:
            metrics["generator_delay_p99_ms"] = round(outcome["generator_delay_ms"]["p99"], 2)
    return result


async def idle(
    server: str, dialect_name: str, pid: int, port: int, sizes: Sizes, batch: int
) -> Result:
    """Register ``sizes.idle_clients`` connections and measure the server's memory."""
    result = Result("idle-10k", server, sizes.idle_clients, 0)
    dialect = DIALECTS[dialect_name]
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
    for client in clients:
        client.close()
    return result
