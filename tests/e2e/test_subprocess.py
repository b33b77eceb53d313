"""``chat-server`` as a real process: the command line, the lab flow, signals and the log.

The server runs as ``python -m wirechat_server`` (the same entry point as the ``chat-server``
script, on uvloop), on a free port picked by binding to port 0 and letting go of it. Every wait
is for an event: a log line, a frame, a line, EOF or the process exit.
"""

from __future__ import annotations

import asyncio
import dataclasses
import pathlib
import re
import signal
from collections.abc import Mapping
from typing import Final

import psutil
import pytest

from tests.support.net import (
    WAIT,
    Listener,
    NativeClient,
    NonReader,
    PlainClient,
    push_until_closed,
    run_lab_transcript,
)
from tests.support.process import COMMAND, START_TIMEOUT, child_env, server_process
from wirechat_common import Ack, Bye, Error, ErrorCode, Joined, LeaveReason, Left, Say
from wirechat_server.config import ServerConfig, env_name, flag_name


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
        shown = f"default: {item.default}; " if item.default != "" else ""  # empty: not shown
        if item.metadata["most"] is not None:  # a number: its range is shown too
            shown += f"at most {item.metadata['most']:,}; "
        assert f"({shown}env {env_name(item.name)})" in " ".join(out.split())


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (("--max-text-bytes", "-1"), {}, "max_text_bytes must be positive, got -1"),
        (("--port", "http"), {}, "argument --port: invalid int value: 'http'"),
        (("--log-level", "loud"), {}, "argument --log-level: invalid choice: 'loud'"),
        (("--max-text-bytes", "9000"), {}, "max_text_bytes must not exceed max_line_bytes"),
        ((), {"WIRECHAT_MSG_RATE": "abc"}, "WIRECHAT_MSG_RATE='abc' is not a valid float"),
        ((), {"WIRECHAT_REGISTER_TIMEOUT": "0"}, "register_timeout must be positive, got 0"),
        (("--coalesce-delay", "0.5"), {}, "coalesce_delay must be at most 0.1, got 0.5"),
        (("--port", "70000"), {}, "port must be at most 65,535, got 70,000"),
        (("--msg-rate", "nan"), {}, "msg_rate must be a finite number, got nan"),
        ((), {"WIRECHAT_IDLE_TIMEOUT": "inf"}, "idle_timeout must be a finite number, got inf"),
        (
            ("--write-timeout", "1e9"),
            {},
            "write_timeout must be at most 3,600.0, got 1,000,000,000.0",
        ),
        (
            ("--soft-output-buffer", "300000"),
            {},
            "soft_output_buffer must not exceed max_output_buffer",
        ),
    ],
    ids=[
        "negative",
        "not-int",
        "bad-choice",
        "inconsistent",
        "env-not-float",
        "env-zero",
        "too-long-delay",
        "port-out-of-range",
        "nan-rate",
        "env-inf-duration",
        "huge-duration",
        "soft-above-hard",
    ],
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
        # Misty came in after the lab transcript: the lobby's lines came first, for context.
        misty_saw = await misty.expect_closed()
        assert misty_saw[-1] == "The server is shutting down. Goodbye!"
        assert {"Ryuka: Hello", "Ash: Hey there"} <= set(misty_saw[:-1])
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


@pytest.mark.parametrize("problem", ["not a directory", "not a database"])
async def test_an_unusable_data_dir_is_a_clear_error_and_exit_1(
    problem: str, tmp_path: pathlib.Path
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    data_dir = blocker / "data"
    if problem == "not a database":
        data_dir = tmp_path / "data"
        data_dir.mkdir()
        (data_dir / "messages.sqlite3").write_bytes(b"garbage, not SQLite" * 100)
    process = await asyncio.create_subprocess_exec(
        *COMMAND,
        "--port",
        "0",
        "--data-dir",
        str(data_dir),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        env=child_env(),
    )
    async with asyncio.timeout(WAIT):
        _, stderr = await process.communicate()
    log = stderr.decode()
    assert process.returncode == 1
    assert "ERROR wirechat.server: cannot open the message store" in log
    assert "Traceback" not in log


async def test_a_second_server_on_the_same_data_dir_refuses_to_start_in_one_line(
    tmp_path: pathlib.Path,
) -> None:
    async with server_process("--data-dir", str(tmp_path)) as first:
        status, _, err = await run_cli("--port", "0", "--data-dir", str(tmp_path))
        assert status == 1, err
        [line] = err.splitlines()  # one clear line, no traceback
        assert "cannot open the message store" in line
        assert f"is in use by another wirechat server (process {first.process.pid})" in line
        # ...and the first serves on, its store intact.
        client = await NativeClient.connect(first.address, "still")
        await client.send(Say(text="after the refusal", client_id="c1"))
        assert (await client.expect(Ack)).id > 0
        await client.close()
    # Once the first has stopped, the lock is free: a new server opens the same store.
    async with server_process("--data-dir", str(tmp_path)) as again:
        client = await NativeClient.connect(again.address, "back")
        await client.close()
