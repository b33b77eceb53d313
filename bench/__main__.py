"""``python -m bench``: run the scenarios against wirechat and its peers, print a table, save JSON.

The server runs on one core and the load generator on the other, so neither can steal the
other's CPU; the generator reports its own CPU use, and a run where it was the bottleneck is
flagged rather than quoted. The fan-out generator is a small C program (:mod:`.cgen`), built
with the machine's C compiler on first use: a generator whose own delay is near the servers'
cannot tell them apart.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import time
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any

from .peers import PEERS, Peer, compile_bytecode, raise_descriptor_limit, running
from .report import summary, table, write_json
from .scenarios import Result, Sizes, fanout, idle

SCENARIOS = ("fanout-1k-sat", "fanout-1k", "fanout-1k-500k", "idle-10k")
RESULTS_DIR = Path(__file__).resolve().parent / "results"


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Measure wirechat's fan-out and idle-connection costs against peer servers "
        "(ngIRCd, miniircd) in the same run.",
    )
    parser.add_argument(
        "--scenario",
        action="append",
        choices=SCENARIOS,
        help="scenario to run (repeatable; default: all)",
    )
    parser.add_argument(
        "--server",
        action="append",
        choices=sorted(PEERS),
        help="server to measure (repeatable; default: every one installed)",
    )
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of load (10)")
    parser.add_argument("--clients", type=int, default=1000, help="clients in the room (1000)")
    parser.add_argument(
        "--idle-clients", type=int, default=10_000, help="connections for idle-10k (10000)"
    )
    parser.add_argument("--reference", default="ngircd", help="server the ratios compare to")
    parser.add_argument(
        "--repeat",
        type=_positive,
        default=1,
        metavar="N",
        help="run everything N times, in rounds, and summarise each server's ratios with their "
        "median: on a shared machine one run's ratio can be off by a third (1)",
    )
    parser.add_argument("--json", type=Path, help="where to write the results as JSON")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="a seconds-long run of every scenario with tiny sizes, for CI; exits 1 if wirechat "
        "lost a message or failed to register a client",
    )
    return parser


def _cores() -> tuple[int | None, int | None]:
    """One core for the server, another for the generator, if there are two."""
    available = sorted(os.sched_getaffinity(0))
    if len(available) < 2:
        return None, None
    return available[0], available[1]


async def _run_one(
    scenario: str, peer: Peer, sizes: Sizes, server_cpu: int | None, generator_cpu: int | None
) -> Result:
    clients = sizes.idle_clients if scenario == "idle-10k" else sizes.clients
    if clients > peer.max_clients:
        result = Result(scenario, peer.name, clients, 0)
        result.notes.append(f"skipped: {peer.name} cannot serve {clients} clients")
        return result
    warnings: list[str] = []
    with running(peer, server_cpu, warnings) as (pid, port):
        if scenario == "idle-10k":
            result = await idle(peer.name, peer.dialect, pid, port, sizes, peer.connect_batch)
        else:
            result = await fanout(
                peer.name,
                peer.dialect,
                pid,
                port,
                sizes,
                scenario=scenario,
                batch=peer.connect_batch,
                cpu=generator_cpu,
            )
    result.notes += (f"server log: {warning}" for warning in warnings)
    return result


async def run(
    scenarios: Sequence[str], peers: Sequence[Peer], sizes: Sizes, repeat: int = 1
) -> list[Result]:
    server_cpu, generator_cpu = _cores()
    if generator_cpu is not None:
        os.sched_setaffinity(0, {generator_cpu})
    results: list[Result] = []
    # Rounds outermost: each round measures every server, so a noisy minute of the machine
    # spoils one round of all of them rather than every run of one.
    for round_number in range(1, repeat + 1):
        for scenario in scenarios:
            for peer in peers:
                label = f" (round {round_number} of {repeat})" if repeat > 1 else ""
                print(
                    f"running {scenario} against {peer.name}{label}...", file=sys.stderr, flush=True
                )
                result = await _run_one(scenario, peer, sizes, server_cpu, generator_cpu)
                result.round = round_number
                results.append(result)
    return results


def _smoke_failures(results: Sequence[Result]) -> list[str]:
    failures = []
    for result in results:
        if not result.server.startswith("wirechat"):
            continue
        if result.registered < result.clients:
            failures.append(f"{result.scenario}/{result.server}: not every client registered")
        if result.metrics.get("loss"):
            failures.append(f"{result.scenario}/{result.server}: lost {result.metrics['loss']}")
    return failures


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    limit = raise_descriptor_limit()
    sizes = Sizes(duration=args.duration, clients=args.clients, idle_clients=args.idle_clients)
    if args.smoke:
        # A small window keeps every receiver far from the 256 KiB slow-consumer cut, even on a
        # loaded CI machine, so the smoke tests the plumbing, not the machine.
        sizes = Sizes(duration=1.0, clients=40, idle_clients=200, paced_scale=0.5, window=100)
    if sizes.idle_clients + 100 > limit:
        print(f"only {limit} descriptors allowed; idle clients capped", file=sys.stderr)
        sizes.idle_clients = limit - 100
    names = args.server or sorted(PEERS)
    peers = []
    for name in names:
        why_not = PEERS[name].available()
        if why_not:
            print(f"skipping {name}: {why_not}", file=sys.stderr)
        else:
            peers.append(PEERS[name])
    if any(peer.name.startswith("wirechat") for peer in peers):
        compile_bytecode()
    results = uvloop_run(run(args.scenario or SCENARIOS, peers, sizes, args.repeat))
    for round_number in range(1, args.repeat + 1):
        if args.repeat > 1:
            print(f"\n== round {round_number} of {args.repeat}")
        print(table([r for r in results if r.round == round_number], args.reference))
    if args.repeat > 1:
        print(summary(results, args.reference))
    meta: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": platform.platform(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "command": " ".join(["python -m bench", *(argv if argv is not None else sys.argv[1:])]),
        "sizes": vars(sizes),
    }
    path = args.json or RESULTS_DIR / f"bench-{time.strftime('%Y%m%d-%H%M%S')}.json"
    write_json(path, results, meta)
    print(f"\nresults written to {path}")
    if args.smoke:
        failures = _smoke_failures(results)
        for failure in failures:
            print(f"SMOKE FAILURE: {failure}", file=sys.stderr)
        return 1 if failures else 0
    return 0


def uvloop_run(coroutine: Coroutine[Any, Any, list[Result]]) -> list[Result]:
    try:
        import uvloop
    except ImportError:  # pragma: no cover
        return asyncio.run(coroutine)
    return uvloop.run(coroutine)


if __name__ == "__main__":
    sys.exit(main())
