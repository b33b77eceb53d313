"""The client in a real terminal: tmux runs it, a test types into it and reads the screen.

Some behaviour shows only there: the terminal, not the test, decides how keys are grouped into
reads. Each :class:`Terminal` uses a tmux server of its own (``-L``), so it never touches the
user's sessions, and it is killed when the test ends. Tests skip when tmux is not installed.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import shlex
import shutil
import sys
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Final

import pytest

from tests.support.net import WAIT

#: A cold interpreter start that imports Textual, on a loaded machine.
START_TIMEOUT: Final = 15.0

_sessions = itertools.count()


class Terminal:
    """One tmux session of ``width`` x ``height`` running one command."""

    def __init__(self, socket_name: str) -> None:
        self.socket_name = socket_name
        self.target = "client"
        self._record: Path | None = None

    async def tmux(self, *arguments: str) -> str:
        process = await asyncio.create_subprocess_exec(
            "tmux",
            "-L",
            self.socket_name,
            *arguments,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await process.communicate()
        if process.returncode:
            raise RuntimeError(f"tmux {' '.join(arguments)}: {err.decode().strip()}")
        return out.decode()

    async def send_keys(self, *keys: str) -> None:
        """``tmux send-keys``: words are typed, names (``Enter``, ``M-1``) pressed, all in one
        write to the terminal."""
        await self.tmux("send-keys", "-t", self.target, *keys)

    async def paste(self, text: str) -> None:
        """Paste ``text`` the way a terminal does (bracketed, if the program asked for it)."""
        await self.tmux("set-buffer", "-b", "test", "--", text)
        await self.tmux("paste-buffer", "-p", "-d", "-b", "test", "-t", self.target)

    async def screen(self) -> str:
        return await self.tmux("capture-pane", "-p", "-t", self.target)

    async def record(self, path: Path) -> None:
        """Append every byte the program writes to the terminal from now on to ``path``: what
        the terminal gets besides the screen (the bell, titles, notifications)."""
        self._record = path
        await self.tmux("pipe-pane", "-o", "-t", self.target, f"cat >> {shlex.quote(str(path))}")

    async def written(self, wanted: bytes, timeout: float = WAIT) -> bytes:
        """What the program wrote since :meth:`record`, once it holds ``wanted``."""
        path = self._record
        assert path is not None, "record() first"

        def read() -> bytes:
            return path.read_bytes() if path.exists() else b""

        async with asyncio.timeout(timeout):
            while wanted not in (data := await asyncio.to_thread(read)):  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        return data

    async def query(self, fmt: str) -> str:
        """A tmux format about the pane, such as ``#{pane_title}``."""
        return (await self.tmux("display-message", "-p", "-t", self.target, fmt)).strip()

    async def title_is(self, title: str, timeout: float = WAIT) -> None:
        """Wait until the program has set the terminal's title to ``title``."""
        async with asyncio.timeout(timeout):
            while await self.query("#{pane_title}") != title:  # noqa: ASYNC110
                await asyncio.sleep(0.05)

    async def shows(self, text: str, timeout: float = WAIT) -> str:
        """Wait until the screen shows ``text``; the screen then."""
        async with asyncio.timeout(timeout):
            # A screen has no event to await: poll it.
            while text not in (screen := await self.screen()):  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        return screen


@contextlib.asynccontextmanager
async def terminal(
    command: Sequence[str],
    *,
    environ: Mapping[str, str],
    size: tuple[int, int] = (120, 40),
) -> AsyncIterator[Terminal]:
    """A fresh tmux server running ``command`` in a ``size`` terminal, killed afterwards."""
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed: the real-terminal tests need it")
    term = Terminal(f"wirechat-test-{os.getpid()}-{next(_sessions)}")
    width, height = size
    env = [f"{key}={value}" for key, value in environ.items()]
    options = [argument for pair in (("-e", e) for e in env) for argument in pair]
    await term.tmux(
        "new-session", "-d", "-s", term.target, "-x", str(width), "-y", str(height),
        *options, *command,
    )  # fmt: skip
    try:
        yield term
    finally:
        with contextlib.suppress(RuntimeError):
            await term.tmux("kill-server")


async def drawn_width(text: str) -> int:
    """How many cells tmux draws ``text`` in: its own width rules, which are what moves the
    borders, whatever Rich counted. ``text`` is printed in a scratch pane, then the cursor is
    read."""
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed: the real-terminal tests need it")
    scratch = Terminal(f"wirechat-width-{os.getpid()}-{next(_sessions)}")
    script = f"printf '%s|' {shlex.quote(text)}; sleep 60"
    await scratch.tmux("new-session", "-d", "-s", scratch.target, "-x", "500", "-y", "3", script)
    try:
        screen = await scratch.shows("|")
        # The cursor is after the "|" we printed, on the row it ended on.
        x = int(await scratch.query("#{cursor_x}"))
        y = int(await scratch.query("#{cursor_y}"))
        assert screen.count("|") >= 1
        return y * 500 + x - 1
    finally:
        with contextlib.suppress(RuntimeError):
            await scratch.tmux("kill-server")


def client_command(port: int, name: str, *extra: str) -> list[str]:
    """The ``wirechat`` command for the client of ``name`` on 127.0.0.1:``port``."""
    return [sys.executable, "-m", "wirechat_client", f"127.0.0.1:{port}", "--name", name, *extra]


def client_environ(config_home: Path) -> dict[str, str]:
    """The client's environment: its own config folder, none of the user's WIRECHAT_ settings."""
    return {"XDG_CONFIG_HOME": str(config_home), "WIRECHAT_THEME": "", "TERM": "xterm-256color"}
