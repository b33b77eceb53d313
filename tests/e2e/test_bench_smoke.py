"""The benchmark suite keeps working: a seconds-long smoke of every scenario against wirechat."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from bench.peers import log_warnings
from bench.report import ratios, summary
from bench.scenarios import Result

ROOT = Path(__file__).resolve().parents[2]


def test_bench_smoke_runs_every_scenario_without_loss(tmp_path: Path) -> None:
    output = tmp_path / "smoke.json"
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--smoke",
            "--server",
            "wirechat-native",
            "--server",
            "wirechat-plain",
            "--repeat",
            "2",
            "--reference",
            "wirechat-native",
            "--json",
            str(output),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    results = json.loads(output.read_text())["results"]
    seen = sorted((result["round"], result["scenario"], result["server"]) for result in results)
    assert seen == sorted(
        (round_number, scenario, server)
        for round_number in (1, 2)
        for scenario in ("fanout-1k-sat", "fanout-1k", "fanout-1k-500k", "idle-10k")
        for server in ("wirechat-native", "wirechat-plain")
    )
    for result in results:
        assert result["registered"] == result["clients"], result
        if result["scenario"].startswith("fanout"):
            assert result["metrics"]["sent"] > 0, result
            assert result["metrics"]["loss"] == 0, result
            assert result["metrics"]["delivered"] == result["metrics"]["expected"], result
    assert "== round 2 of 2" in completed.stdout  # each round's tables were printed
    rows = columns(completed.stdout.split("over 2 rounds")[1])  # ...and the ratios over both
    # The reference against itself: this checks the plumbing; the arithmetic is tested below.
    assert ["fanout-1k-sat", "wirechat-native", "1.00 1.00", "1.00 1.00", "1.00x"] in rows
    assert [row[:2] for row in rows].count(["fanout-1k-sat", "wirechat-plain"]) == 1


def test_a_wirechat_servers_warnings_are_quoted_from_its_log() -> None:
    log = "\n".join(
        [
            "2026-11-26 02:15:11,368 INFO wirechat.server: listening on 127.0.0.1:7801",
            "2026-11-26 02:15:12,001 WARNING wirechat.store: slow storage: a commit of 5 ...",
            "2026-11-26 02:15:13,002 ERROR wirechat.store: cannot store messages: disk full",
            "2026-11-26 02:15:13,003 CRITICAL wirechat.store: the message store's writer failed",
            *[f"2026-11-26 02:15:14,00{n} WARNING wirechat.server: w{n}" for n in range(3)],
            "Traceback (most recent call last):",
        ]
    )
    assert log_warnings(log) == [
        "WARNING wirechat.store: slow storage: a commit of 5 ...",
        "ERROR wirechat.store: cannot store messages: disk full",
        "CRITICAL wirechat.store: the message store's writer failed",
        "and 3 more warnings",  # past MAX_WARNINGS (3)
    ]


def test_a_repeated_run_summarises_each_servers_ratios_round_by_round() -> None:
    def result(server: str, round_number: int, value: float) -> Result:
        return Result("fanout-1k", server, 10, 10, {"latency_p99_ms": value}, round=round_number)

    results = [
        result("ngircd", 1, 10.0),
        result("wirechat-relay", 1, 12.0),
        result("ngircd", 2, 20.0),
        result("wirechat-relay", 2, 16.0),
        result("ngircd", 3, 10.0),
        result("wirechat-relay", 3, 9.0),
        result("wirechat-relay", 4, 5.0),  # no reference in round 4: no ratio
    ]
    assert ratios(results, "ngircd") == {
        ("fanout-1k", "ngircd"): {1: 1.0, 2: 1.0, 3: 1.0},
        ("fanout-1k", "wirechat-relay"): {1: 1.2, 2: 0.8, 3: 0.9},
    }
    text = summary(results, "ngircd")
    assert "over 4 rounds" in text
    assert ["fanout-1k", "wirechat-relay", "1.20 0.80 0.90 -", "0.80 0.90 1.20", "0.90x"] in (
        columns(text)
    )
    assert summary(results, "miniircd").endswith("no ratios: miniircd was not measured")


def columns(text: str) -> list[list[str]]:
    """The cells of each line of a printed table (columns are two or more spaces apart)."""
    return [re.split(r"\s{2,}", line.strip()) for line in text.splitlines() if line.strip()]
