"""What importing something loads: a statement run in a fresh interpreter, for the checks that
a sans-I/O package or model stays free of event loops, sockets, threads and UI libraries."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterable


def modules_loaded_after(statement: str, watched: Iterable[str]) -> set[str]:
    """Those of the ``watched`` modules present in ``sys.modules`` after running ``statement``
    in a new Python process."""
    code = (
        "import json, sys\n"
        f"{statement}\n"
        f"print(json.dumps([m for m in {list(watched)!r} if m in sys.modules]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True
    )
    loaded: list[str] = json.loads(result.stdout)
    return set(loaded)
