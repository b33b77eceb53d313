"""Presenting results: one table per scenario, with each server's ratio to a reference peer."""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, Final

from .scenarios import Result

#: The headline number of each scenario, and whether more is better.
HEADLINE: Final = {
    "fanout-1k-sat": ("deliveries_per_s", True),
    "fanout-1k": ("latency_p99_ms", False),
    "fanout-1k-500k": ("latency_p99_ms", False),
    "idle-10k": ("server_rss_mib", False),
}
_LATENCY_COLUMNS: Final = [
    "latency_p50_ms",
    "latency_p99_ms",
    "latency_p999_ms",
    "read_p99_ms",
    "generator_delay_p99_ms",
    "loss",
    "sent",
    "server_cpu_s",
    "deliveries_per_read",
    "generator_cpu",
]
COLUMNS: Final = {
    "fanout-1k-sat": [
        "deliveries_per_s",
        "loss",
        "server_cpu_s",
        "server_peak_rss_mib",
        "generator_cpu",
    ],
    "fanout-1k": _LATENCY_COLUMNS,
    "fanout-1k-500k": _LATENCY_COLUMNS,
    "idle-10k": ["server_rss_mib", "kib_per_connection", "connect_s"],
}


def _aligned(lines: Sequence[Sequence[str]]) -> list[str]:
    """``lines`` as text columns, the first line a header underlined with dashes."""
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    out = [
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in lines
    ]
    out.insert(1, "  ".join("-" * width for width in widths))
    return out


def _cell(value: Any) -> str:
    if isinstance(value, int) and abs(value) >= 10_000:
        return f"{value:,}"
    return "-" if value is None else str(value)


def table(results: Sequence[Result], reference: str) -> str:
    """A plain-text table per scenario; the ratio column compares each server to ``reference``."""
    out: list[str] = []
    for scenario in HEADLINE:
        rows = [result for result in results if result.scenario == scenario]
        if not rows:
            continue
        key, _more_is_better = HEADLINE[scenario]
        base = next((r.metrics.get(key) for r in rows if r.server == reference), None)
        header = ["server", "registered", *COLUMNS[scenario], f"{key} / {reference}"]
        lines = [header]
        for row in rows:
            value = row.metrics.get(key)
            ratio = f"{value / base:.2f}x" if value is not None and base else "-"
            registered = f"{row.registered}/{row.clients}"
            lines.append(
                [
                    row.server,
                    registered,
                    *(_cell(row.metrics.get(c)) for c in COLUMNS[scenario]),
                    ratio,
                ]
            )
        out.append(f"\n{scenario}")
        out += _aligned(lines)
        history = _history_cost(rows, key)
        if history:
            out.append(history)
        for row in rows:
            for note in row.notes:
                out.append(f"  note: {row.server}: {note}")
    return "\n".join(out)


def ratios(results: Sequence[Result], reference: str) -> dict[tuple[str, str], dict[int, float]]:
    """Each (scenario, server)'s headline ratio to ``reference``, by round, in every round that
    measured both."""
    found: dict[tuple[str, str], dict[int, float]] = {}
    for scenario, (key, _more_is_better) in HEADLINE.items():
        for round_number in sorted({r.round for r in results}):
            rows = [r for r in results if r.scenario == scenario and r.round == round_number]
            base = next((r.metrics.get(key) for r in rows if r.server == reference), None)
            for row in rows:
                value = row.metrics.get(key)
                if value is not None and base:
                    found.setdefault((scenario, row.server), {})[round_number] = value / base
    return found


def summary(results: Sequence[Result], reference: str) -> str:
    """The ratios of a ``--repeat`` run, round by round (``-`` where a round has none) and
    sorted, with their medians."""
    rounds = sorted({r.round for r in results})
    by_server = ratios(results, reference)
    out = [f"\nover {len(rounds)} rounds: each server's ratio to {reference}"]
    if not by_server:
        return "\n".join([*out, f"no ratios: {reference} was not measured"])
    lines = [["scenario", "server", "ratios by round", "sorted", "median"]]
    for (scenario, server), found in by_server.items():
        lines.append(
            [
                scenario,
                server,
                " ".join(f"{found[n]:.2f}" if n in found else "-" for n in rounds),
                " ".join(f"{ratio:.2f}" for ratio in sorted(found.values())),
                f"{statistics.median(found.values()):.2f}x",
            ]
        )
    return "\n".join(out + _aligned(lines))


def _history_cost(rows: Sequence[Result], key: str) -> str:
    """What durable history costs: the native server with it (wirechat-native) against the
    same server with it off (wirechat-relay), on the scenario's headline number and, where the
    generator may be the limit, on server CPU per delivery."""
    by_server = {row.server: row for row in rows}
    on, off = by_server.get("wirechat-native"), by_server.get("wirechat-relay")
    if on is None or off is None:
        return ""
    parts = []
    on_value, off_value = on.metrics.get(key), off.metrics.get(key)
    if isinstance(on_value, (int, float)) and isinstance(off_value, (int, float)) and off_value:
        parts.append(f"{key} {on_value / off_value:.2f}x")
    on_cpu, off_cpu = on.metrics.get("server_cpu_s"), off.metrics.get("server_cpu_s")
    if key == "deliveries_per_s" and on_value and off_value and on_cpu and off_cpu:
        # Deliveries per server CPU second: the throughput ratio the server itself allows.
        parts.append(
            f"deliveries per server CPU second {on_value / on_cpu / (off_value / off_cpu):.2f}x"
        )
    if not parts:
        return ""
    return "  durable history on / off (wirechat-native / wirechat-relay): " + ", ".join(parts)


def write_json(path: Path, results: Sequence[Result], meta: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {"meta": meta, "results": [asdict(result) for result in results]}
    path.write_text(json.dumps(document, indent=2) + "\n")
