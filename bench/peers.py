"""Starting and stopping the servers under test, each pinned to its own CPU core.

A peer is started as a child process of the benchmark, found ready by connecting to its port, and
stopped by its PID (never by name: other copies may be running on a shared machine).
"""

from __future__ import annotations

import compileall
import contextlib
import importlib.util
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

#: The hard descriptor limit here is 20,000; idle-10k needs 10,000 on each side plus spares.
WANTED_DESCRIPTORS = 20_000

NGIRCD_CONF = """\
[Global]
Name = bench.invalid
Info = wirechat benchmark peer
Listen = 127.0.0.1
Ports = {port}
MotdPhrase = bench
PidFile = {workdir}/ngircd.pid
[Limits]
MaxConnections = 0
MaxConnectionsIP = 0
MaxJoins = 0
MaxNickLength = 16
PingTimeout = 600
PongTimeout = 600
MaxPenaltyTime = 0
[Options]
DNS = no
Ident = no
PAM = no
"""


def raise_descriptor_limit() -> int:
    """Raise this process's soft descriptor limit as far as allowed; return the new limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = min(WANTED_DESCRIPTORS, hard) if hard != resource.RLIM_INFINITY else WANTED_DESCRIPTORS
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    return soft


@dataclass(frozen=True)
class Peer:
    """A server to measure: its name, the dialect clients speak to it, how to start it."""

    name: str
    dialect: str
    command: Callable[[int, Path], list[str]]
    available: Callable[[], str | None]  # None if usable, else why not
    max_clients: int = 1_000_000
    #: Clients to connect at once, within the peer's listen backlog: an overflowing accept queue
    #: shows up as connect retries and timeouts rather than as slowness.
    connect_batch: int = 100
    #: Whether the server logs in wirechat's format, whose warnings the run reports.
    reports_warnings: bool = False


def _wirechat(port: int, workdir: Path, storage: str = "sqlite") -> list[str]:
    return [
        sys.executable,
        "-m",
        "wirechat_server",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--msg-rate",
        "0",  # measure capacity, not the flood limit (peers' penalties are off too)
        "--max-connections",
        "19000",
        # Durable history as shipped (SQLite, synchronous=FULL), in the run's own directory.
        "--storage",
        storage,
        "--data-dir",
        str(workdir),
    ]


def _wirechat_relay(port: int, workdir: Path) -> list[str]:
    return _wirechat(port, workdir, storage="none")


def _ngircd(port: int, workdir: Path) -> list[str]:
    conf = workdir / "ngircd.conf"
    conf.write_text(NGIRCD_CONF.format(port=port, workdir=workdir))
    return [_which_ngircd() or "ngircd", "--nodaemon", "--config", str(conf)]


def _which_ngircd() -> str | None:
    return shutil.which("ngircd") or (
        "/usr/sbin/ngircd" if Path("/usr/sbin/ngircd").exists() else None
    )


def _miniircd(port: int, workdir: Path) -> list[str]:
    command = [sys.executable, "-m", "miniircd", "--ports", str(port), "--listen", "127.0.0.1"]
    if os.geteuid() == 0:
        command += ["--setuid", "root"]  # it refuses to run as root unless told so explicitly
    return command


def _always() -> str | None:
    return None


def _ngircd_available() -> str | None:
    return None if _which_ngircd() else "ngircd is not installed (apt-get install ngircd)"


def _miniircd_available() -> str | None:
    if importlib.util.find_spec("miniircd") is None:
        return "miniircd is not installed (it is in the dev dependency group: uv sync)"
    return None


PEERS: dict[str, Peer] = {
    "wirechat-native": Peer("wirechat-native", "native", _wirechat, _always, reports_warnings=True),
    "wirechat-plain": Peer("wirechat-plain", "plain", _wirechat, _always, reports_warnings=True),
    # The native server with storage off: what durable history costs is native / relay.
    "wirechat-relay": Peer(
        "wirechat-relay", "native", _wirechat_relay, _always, reports_warnings=True
    ),
    "ngircd": Peer("ngircd", "irc", _ngircd, _ngircd_available, connect_batch=10),
    # miniircd uses select(), which cannot watch descriptors past 1023, and listens with a
    # backlog of 5.
    "miniircd": Peer(
        "miniircd", "irc", _miniircd, _miniircd_available, max_clients=1000, connect_batch=5
    ),
}


#: Run by a fresh interpreter: the source file of every module the server imports.
_LIST_SERVER_MODULES: Final = """
import sys, wirechat_server.cli
for module in list(sys.modules.values()):
    source = getattr(module, "__file__", None) or ""
    if source.endswith(".py"):
        print(source)
"""


def compile_bytecode() -> None:
    """Write the ``.pyc`` files of every module a wirechat server imports, as an installed
    server has them: pip compiles bytecode when it installs, uv with ``--compile-bytecode``.
    Without them (``PYTHONDONTWRITEBYTECODE`` is set on some machines, ours among them) every
    start compiles from source, which leaves some 3 MiB of the compiler's garbage in the
    server's memory and would be charged to it in idle-10k."""
    listing = subprocess.run(
        [sys.executable, "-c", _LIST_SERVER_MODULES],
        capture_output=True,
        text=True,
        check=True,
    )
    for source in listing.stdout.splitlines():
        compileall.compile_file(source, quiet=1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _pin_and_raise(cpu: int | None) -> Callable[[], None]:
    def prepare() -> None:
        raise_descriptor_limit()
        if cpu is not None:
            os.sched_setaffinity(0, {cpu})

    return prepare


def _wait_listening(port: int, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited at start with status {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"the server did not listen on port {port} within {timeout} s")


#: Server warnings (such as slow storage) quoted in a result's notes, at most.
MAX_WARNINGS: Final = 3


def log_warnings(log_text: str) -> list[str]:
    """The WARNING, ERROR and CRITICAL lines of a wirechat server's log, without timestamps."""
    found = []
    for line in log_text.splitlines():
        parts = line.split(" ", 3)  # date, time, level, "logger: message"
        if len(parts) == 4 and parts[2] in ("WARNING", "ERROR", "CRITICAL"):
            found.append(f"{parts[2]} {parts[3]}")
    if len(found) > MAX_WARNINGS:
        found[MAX_WARNINGS:] = [f"and {len(found) - MAX_WARNINGS} more warnings"]
    return found


@contextlib.contextmanager
def running(
    peer: Peer, cpu: int | None, warnings: list[str] | None = None
) -> Iterator[tuple[int, int]]:
    """Start ``peer`` on a free port, pinned to ``cpu``; yield (pid, port); stop it by PID.

    Once it has stopped, its logged warnings are added to ``warnings`` (for peers that log in
    wirechat's format): a slow disk or a refused client explains an outlier.
    """
    with tempfile.TemporaryDirectory(prefix=f"bench-{peer.name}-") as tmp:
        workdir = Path(tmp)
        port = free_port()
        log = (workdir / "server.log").open("wb")
        process = subprocess.Popen(
            peer.command(port, workdir),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=_pin_and_raise(cpu),
        )
        try:
            try:
                _wait_listening(port, process, 15.0)
            except RuntimeError as error:
                log.flush()
                tail = (workdir / "server.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"{peer.name}: {error}; its output:\n{tail}") from None
            # A connection probe may have registered nothing, but let the server settle.
            time.sleep(0.2)
            yield process.pid, port
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            log.close()
            if warnings is not None and peer.reports_warnings:
                warnings += log_warnings((workdir / "server.log").read_text(errors="replace"))
