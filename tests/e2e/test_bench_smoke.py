"""The benchmark suite keeps working: a seconds-long smoke of every scenario against wirechat."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bench.peers import log_warnings

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
    seen = {(result["scenario"], result["server"]) for result in results}
    assert seen == {
        (scenario, server)
        for scenario in ("fanout-1k-sat", "fanout-1k", "idle-10k")
        for server in ("wirechat-native", "wirechat-plain")
    }
    for result in results:
        assert result["registered"] == result["clients"], result
        if result["scenario"].startswith("fanout"):
            assert result["metrics"]["sent"] > 0, result
            assert result["metrics"]["loss"] == 0, result
            assert result["metrics"]["delivered"] == result["metrics"]["expected"], result
    assert "fanout-1k-sat" in completed.stdout  # the table was printed


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
