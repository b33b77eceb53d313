"""The fan-out generator in C (``gen/fanout.c``): built on first use, run as a child process.

The generator is compiled with the machine's C compiler into a cache folder, keyed by the hash
of its source, so an edited source is rebuilt and an unchanged one is not. It is driven over its
standard streams: it prints one JSON line once every client is registered, waits for ``go``,
runs, and prints its result as a second JSON line (see the comment at the top of the source).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

SOURCE: Final = Path(__file__).resolve().parent / "gen" / "fanout.c"
#: Where built generators are kept (gitignored); override with WIRECHAT_BENCH_BUILD.
BUILD_DIR: Final = Path(
    os.environ.get("WIRECHAT_BENCH_BUILD", Path(__file__).resolve().parent / "build")
)
#: How long registering everyone may take before the run is abandoned (seconds).
READY_TIMEOUT: Final = 120.0


class GeneratorError(RuntimeError):
    """The generator could not be built, or did not run to the end."""


def build() -> Path:
    """The generator's executable, compiled now if this source has not been built yet."""
    source = SOURCE.read_bytes()
    binary = BUILD_DIR / f"fanout-{hashlib.sha256(source).hexdigest()[:16]}"
    if binary.exists():
        return binary
    compiler = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        raise GeneratorError("no C compiler found (install gcc, or set CC)")
    BUILD_DIR.mkdir(parents=True, exist_ok=True)
    partial = binary.with_suffix(".partial")
    completed = subprocess.run(
        [compiler, "-O2", "-Wall", "-Wextra", "-o", str(partial), str(SOURCE)],
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise GeneratorError(f"building {SOURCE.name} failed:\n{completed.stderr}")
    partial.rename(binary)  # atomic: a concurrent run sees the whole file or none
    return binary


def arguments(
    port: int,
    dialect: str,
    *,
    clients: int,
    senders: int,
    duration: float,
    rate: float,
    window: int,
    payload: int,
    batch: int,
) -> list[str]:
    """The command line for one run; ``rate`` 0 saturates within ``window``."""
    return [
        "--port",
        str(port),
        "--dialect",
        dialect,
        "--clients",
        str(clients),
        "--senders",
        str(senders),
        "--duration",
        str(duration),
        "--rate",
        str(rate),
        "--window",
        str(window),
        "--payload",
        str(payload),
        "--batch",
        str(batch),
    ]


async def run(
    args: list[str], *, cpu: int | None, at_go: Callable[[], None]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run the generator with ``args``, pinned to ``cpu``; call ``at_go`` just before the load
    starts (to read the server's CPU time). Returns the ready line and the result."""

    def pin() -> None:
        if cpu is not None:
            os.sched_setaffinity(0, {cpu})

    process = await asyncio.create_subprocess_exec(
        str(build()),
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        preexec_fn=pin,
    )
    assert process.stdin is not None
    try:
        async with asyncio.timeout(READY_TIMEOUT):
            ready = await _line(process)
        at_go()
        process.stdin.write(b"go\n")
        await process.stdin.drain()
        result = await _line(process)
        await process.wait()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    return ready, result


async def _line(process: asyncio.subprocess.Process) -> dict[str, Any]:
    assert process.stdout is not None
    assert process.stderr is not None
    line = await process.stdout.readline()
    if not line:
        await process.wait()
        errors = (await process.stderr.read()).decode(errors="replace").strip()
        raise GeneratorError(f"the generator exited with status {process.returncode}: {errors}")
    value: dict[str, Any] = json.loads(line)
    return value
