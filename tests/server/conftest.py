"""Run every in-process server test on both event loops.

``chat-server`` runs on uvloop (see ``wirechat_server.cli``), whose transports buffer, pause and
abort by their own code; the standard asyncio loop is what the server falls back to without
uvloop. The server's flow control leans on transport behaviour, so both are tested.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest
import uvloop

from tests.support.disks import small_tmpfs


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> Mapping[str, Callable[[], asyncio.AbstractEventLoop]]:
    del config, item
    return {"asyncio": asyncio.new_event_loop, "uvloop": uvloop.new_event_loop}


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 512 KiB tmpfs: a disk that really fills up (needs root, else the test is skipped)."""
    with small_tmpfs(tmp_path, "512k") as mountpoint:
        yield mountpoint
