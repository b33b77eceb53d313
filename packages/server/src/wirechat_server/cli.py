"""The ``chat-server`` command: parse settings, set up logging, run until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import logging
import resource
import signal
import sys
from collections.abc import Sequence
from typing import Final

from .config import ServerConfig, add_arguments, config_from, describe
from .server import ChatServer, check_listeners, server_version
from .storage.sqlite import StoreError

log: Final = logging.getLogger("wirechat.server")

#: File descriptors the process needs besides its clients: listener, logging, event loop.
SPARE_DESCRIPTORS: Final = 64

DESCRIPTION: Final = """\
Run a wirechat chat server.

Clients connect over TCP. The wirechat client and bots speak the native JSON protocol
(docs/protocol.md); anything else is served as plain text, so `nc HOST PORT` or the original
lab client work too: send your name as the first line, then chat; `bye` leaves.

Every setting can also be given as an environment variable (shown with each flag);
flags win over the environment.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chat-server",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=server_version())
    add_arguments(parser)
    return parser


def raise_descriptor_limit(max_connections: int) -> None:
    """Raise the soft RLIMIT_NOFILE to the hard limit, so the connection cap is reached before
    the kernel refuses descriptors (many systems default to a soft limit of 1024)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else max(soft, max_connections * 2)
    if wanted > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            soft = wanted
        except (ValueError, OSError):  # pragma: no cover - a restricted container
            pass
    if max_connections + SPARE_DESCRIPTORS > soft:
        log.warning(
            "max_connections=%d but only %d file descriptors are allowed: "
            "connections past about %d will fail to be accepted",
            max_connections,
            soft,
            soft - SPARE_DESCRIPTORS,
        )


async def serve(config: ServerConfig) -> None:
    """Run a server with ``config`` until SIGINT or SIGTERM, then shut it down in order."""
    server = ChatServer(config)
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        await server.shutdown()


def _run(config: ServerConfig) -> None:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux and macOS
        asyncio.run(serve(config))
    else:
        uvloop.run(serve(config))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``chat-server``; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = config_from(args)
        check_listeners(config)
    except ValueError as error:
        parser.error(str(error))
    logging.basicConfig(
        level=config.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    log.debug("settings: %s", ", ".join(f"{name}={value}" for name, value in describe(config)))
    raise_descriptor_limit(config.max_connections)
    try:
        _run(config)
    except StoreError as error:
        log.error("cannot open the message store: %s", error)
        return 1
    except OSError as error:
        log.error("cannot serve on %s", error.strerror or error)
        return 1
    return 0


def main_exit() -> None:
    """Console-script wrapper: exit with :func:`main`'s status."""
    sys.exit(main())
