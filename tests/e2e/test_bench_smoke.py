"""The benchmark suite keeps working: a seconds-long smoke of every scenario against wirechat."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

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
