"""``chat-server`` as a real process: the command line, the lab flow, signals and the log.

The server runs as ``python -m wirechat_server`` (the same entry point as the ``chat-server``
script, on uvloop), on a free port picked by binding to port 0 and letting go of it. Every wait
is for an event: a log line, a frame, a line, EOF or the process exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import re
import signal
import socket
import sys
from collections.abc import AsyncIterator, Mapping
from typing import Final

import psutil
import pytest

from tests.helpers import (
    WAIT,
    Listener,
    NativeClient,
    NonReader,
    PlainClient,
    push_until_closed,
    run_lab_transcript,
)
from wirechat_common import Ack, Bye, Error, ErrorCode, Joined, LeaveReason, Left, Say
from wirechat_server.config import ServerConfig, env_name, flag_name

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
    the default level, info: do not pass a higher ``--log-level``)."""
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


def local_address(client: NativeClient | PlainClient) -> str:
    host, port = client.writer.get_extra_info("sockname")[:2]
    return re.escape(f"{host}:{port}")


# -- the command line ----------------------------------------------------------------------------


async def run_cli(*args: str, env: Mapping[str, str] | None = None) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        *COMMAND,
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=child_env(env),
    )
    async with asyncio.timeout(START_TIMEOUT):
        out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_help_names_every_setting_with_its_flag_and_environment_variable() -> None:
    status, out, err = await run_cli("--help")
    assert status == 0, err
    assert out.startswith("usage: chat-server")
    for item in dataclasses.fields(ServerConfig):
        assert flag_name(item.name) in out, item.name
        assert env_name(item.name) in out, item.name
        assert f"(default: {item.default}; env {env_name(item.name)})" in " ".join(out.split())


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (("--max-text-bytes", "-1"), {}, "max_text_bytes must be positive, got -1"),
        (("--port", "http"), {}, "argument --port: invalid int value: 'http'"),
        (("--log-level", "loud"), {}, "argument --log-level: invalid choice: 'loud'"),
        (("--max-text-bytes", "9000"), {}, "max_text_bytes must not exceed max_line_bytes"),
        ((), {"WIRECHAT_MSG_RATE": "abc"}, "WIRECHAT_MSG_RATE='abc' is not a valid float"),
        ((), {"WIRECHAT_REGISTER_TIMEOUT": "0"}, "register_timeout must be positive, got 0"),
    ],
    ids=["negative", "not-int", "bad-choice", "inconsistent", "env-not-float", "env-zero"],
)
async def test_invalid_setting_exits_with_status_2_and_a_clear_message(
    args: tuple[str, ...], env: dict[str, str], message: str
) -> None:
    status, out, err = await run_cli(*args, env=env)
    assert status == 2
    assert out == ""
    assert err.startswith("usage: chat-server")
    assert f"chat-server: error: {message}" in err
    assert "Traceback" not in err


# -- a real process ----------------------------------------------------------------------------


async def test_lab_flow_then_sigterm_with_clients_connected() -> None:
    async with server_process("--log-level", "info") as server:
        ryuka, ash = await run_lab_transcript(server.address)

        # Someone who breaks a limit is refused, and the log says who, from where and why.
        _sent, received = await push_until_closed(
            server.address, [b"{" + b"x" * 16 * 1024, b"x" * 16 * 1024, b"x" * 16 * 1024]
        )
        assert b'"code":"frame_too_large"' in received

        # Two clients are connected when SIGTERM arrives.
        misty = await PlainClient.connect(server.address, "Misty")
        assert (await ash.expect(Joined)).name == "Misty"
        server.process.send_signal(signal.SIGTERM)
        assert await ash.expect_closed() == [Bye(reason=LeaveReason.SHUTDOWN)]
        assert await misty.expect_closed() == ["The server is shutting down. Goodbye!"]
        assert await server.wait_exit() == 0

        log = server.text()
        ryuka_at, ash_at, misty_at = local_address(ryuka), local_address(ash), local_address(misty)
        for pattern in [
            rf"connect {ryuka_at}$",
            rf"register {ryuka_at} name=Ryuka kind=plain",
            rf"disconnect {ryuka_at} name=Ryuka reason=quit",
            rf"register {ash_at} name=Ash kind=native",
            r"refuse 127\.0\.0\.1:\d+ name=- reason=frame_too_large",
            r"disconnect 127\.0\.0\.1:\d+ name=- reason=frame_too_large",
            r"shutting down: 2 connections",
            rf"disconnect {ash_at} name=Ash reason=shutdown",
            rf"disconnect {misty_at} name=Misty reason=shutdown",
            r"stopped$",
        ]:
            assert re.search(pattern, log, re.MULTILINE), f"{pattern!r} not in the log:\n{log}"
        assert "Traceback" not in log
        assert " ERROR " not in log


async def test_sigint_stops_the_server_cleanly() -> None:
    async with server_process() as server:
        client = await NativeClient.connect(server.address, "alice")
        server.process.send_signal(signal.SIGINT)
        assert await client.expect_closed() == [Bye(reason=LeaveReason.SHUTDOWN)]
        assert await server.wait_exit() == 0
        assert "KeyboardInterrupt" not in server.text()
        assert re.search(r"stopped$", server.text(), re.MULTILINE)


async def test_settings_from_flags_and_environment_reach_the_running_server() -> None:
    env = {"WIRECHAT_MAX_TEXT_BYTES": "10", "WIRECHAT_MAX_FRAME_BYTES": "5000"}
    async with server_process("--max-frame-bytes", "3000", env=env) as server:
        client = await NativeClient.connect(server.address, "alice")
        assert client.welcome is not None
        # The environment set both; the flag won for the frame limit.
        assert (client.welcome.max_text_bytes, client.welcome.max_frame_bytes) == (10, 3000)
        await client.send(Say(text="x" * 11))
        error = await client.expect(Error)
        assert (error.code, error.fatal) == (ErrorCode.TEXT_TOO_LONG, False)
        await client.close()


# -- resources of the real process (F1-lite, C1 with ten non-readers) -----------------------------

KIB: Final = 1024


async def test_idle_clients_cost_little_and_give_back_their_descriptors() -> None:
    count = 500
    async with server_process() as server:
        process = psutil.Process(server.process.pid)
        warm = await NativeClient.connect(server.address, "warm")
        await warm.sync()
        base_rss, base_fds = process.memory_info().rss, process.num_fds()

        clients: list[NativeClient] = []
        for start in range(0, count, 100):
            clients += await asyncio.gather(
                *(NativeClient.connect(server.address, f"u{n}") for n in range(start, start + 100))
            )
        await warm.sync()
        per_client = (process.memory_info().rss - base_rss) / count
        assert process.num_fds() - base_fds == count  # one descriptor each, nothing else
        assert per_client < 40 * KIB, f"{per_client / KIB:.1f} KiB of RSS per idle client"

        for client in clients:
            client.abort()
        left = await warm.collect(Left, count, timeout=2 * WAIT)
        assert {event.reason for event in left} == {LeaveReason.DROPPED}
        await warm.sync()
        assert process.num_fds() == base_fds
        await warm.close()


async def test_non_readers_cost_no_more_than_their_output_limit() -> None:
    async with server_process("--msg-rate", "0", "--max-output-buffer", str(64 * KIB)) as server:
        process = psutil.Process(server.process.pid)
        observer = Listener(await NativeClient.connect(server.address, "observer"))
        sender = await NativeClient.connect(server.address, "sender")
        text = "z" * KIB

        async def push(count: int) -> None:
            for _ in range(count // 32):
                await sender.send(*(Say(text=text) for _ in range(32)))
                await sender.collect(Ack, 32)

        await push(256)  # warm up every path before the baseline
        base_rss = process.memory_info().rss
        non_readers = [await NonReader.connect(server.address, f"slow{n}") for n in range(10)]
        await push(8000)  # 8 MiB to each non-reader: 80 MiB if nothing bounded it
        await observer.finish()
        assert sorted((left.name, left.reason) for left in observer.left) == [
            (f"slow{n}", LeaveReason.TOO_SLOW) for n in range(10)
        ]
        assert len(observer.messages) == 8256  # the reader that reads lost nothing
        growth = process.memory_info().rss - base_rss
        assert growth < 16 * 1024 * KIB, f"RSS grew by {growth / KIB / KIB:.1f} MiB"
        for non_reader in non_readers:
            non_reader.close()
        await sender.close()
        await observer.client.close()
