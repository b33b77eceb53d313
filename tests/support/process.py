"""``chat-server`` as a child process, its log collected line by line, for end-to-end tests."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import socket
import sys
import tempfile
from collections.abc import AsyncIterator, Mapping
from typing import Final

import pytest

from tests.support.net import WAIT

COMMAND: Final = (sys.executable, "-m", "wirechat_server")
START_TIMEOUT: Final = 10.0  # a cold interpreter start on a loaded machine
EXIT_TIMEOUT: Final = 5.0


def free_port() -> int:
    """A port nothing listens on right now (the kernel's pick for port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a server process: no stray WIRECHAT_ settings, plus ``extra``."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("WIRECHAT_")}
    env["PYTHONUNBUFFERED"] = "1"
    env["COLUMNS"] = "100"
    env.update(extra or {})
    return env


class ServerProcess:
    """A ``chat-server`` subprocess whose stderr (the log) is collected line by line."""

    def __init__(self, process: asyncio.subprocess.Process, port: int) -> None:
        self.process = process
        self.port = port
        self.address = ("127.0.0.1", port)
        self.log: list[str] = []
        self._new_line = asyncio.Condition()
        self._reader = asyncio.create_task(self._read_log())

    async def _read_log(self) -> None:
        assert self.process.stderr is not None
        async for raw in self.process.stderr:
            async with self._new_line:
                self.log.append(raw.decode(errors="replace").rstrip("\n"))
                self._new_line.notify_all()
        async with self._new_line:
            self._new_line.notify_all()

    async def wait_for_log(self, pattern: str, timeout: float = WAIT) -> re.Match[str]:
        """The first log line matching ``pattern``, waiting for it to be written."""
        regex = re.compile(pattern)
        seen = 0
        async with asyncio.timeout(timeout), self._new_line:
            while True:
                for line in self.log[seen:]:
                    if match := regex.search(line):
                        return match
                seen = len(self.log)
                if self._reader.done():
                    raise AssertionError(f"no log line matches {pattern!r}:\n" + self.text())
                await self._new_line.wait()

    def text(self) -> str:
        return "\n".join(self.log)

    async def wait_exit(self, timeout: float = EXIT_TIMEOUT) -> int:
        async with asyncio.timeout(timeout):
            status = await self.process.wait()
            await self._reader
        return status

    async def stop(self) -> None:
        if self.process.returncode is None:
            self.process.kill()
            await self.process.wait()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader


@contextlib.asynccontextmanager
async def server_process(
    *args: str, env: Mapping[str, str] | None = None
) -> AsyncIterator[ServerProcess]:
    """Start ``chat-server`` on a free port and wait for its "listening on" line (logged at
    the default level, info: do not pass a higher ``--log-level``).

    Unless ``args`` name a ``--data-dir``, the server keeps its messages in a fresh temporary
    directory, removed afterwards: tests never share history by accident.
    """
    with contextlib.ExitStack() as stack:
        if "--data-dir" not in args:
            data_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="wirechat-e2e-"))
            args = (*args, "--data-dir", data_dir)
        async with _server_process(args, env) as server:
            yield server


@contextlib.asynccontextmanager
async def _server_process(
    args: tuple[str, ...], env: Mapping[str, str] | None
) -> AsyncIterator[ServerProcess]:
    for _attempt in range(3):  # another process may grab the port between probe and bind
        port = free_port()
        process = await asyncio.create_subprocess_exec(
            *COMMAND,
            "--port",
            str(port),
            *args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            env=child_env(env),
        )
        server = ServerProcess(process, port)
        try:
            await server.wait_for_log(rf"listening on 127\.0\.0\.1:{port}\b", START_TIMEOUT)
        except AssertionError:
            await server.stop()
            if "cannot serve" in server.text():
                continue
            raise
        try:
            yield server
        finally:
            await server.stop()
        return
    pytest.fail("no free port could be bound in three attempts")
