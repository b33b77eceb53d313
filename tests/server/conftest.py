"""Run every in-process server test on both event loops; fixtures shared by server tests.

``chat-server`` runs on uvloop (see ``wirechat_server.cli``), whose transports buffer, pause and
abort by their own code; the standard asyncio loop is what the server falls back to without
uvloop. The server's flow control leans on transport behaviour, so both are tested.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable, Mapping

import pytest
import uvloop

from wirechat_server.connection import Connection


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> Mapping[str, Callable[[], asyncio.AbstractEventLoop]]:
    del config, item
    return {"asyncio": asyncio.new_event_loop, "uvloop": uvloop.new_event_loop}


@pytest.fixture
def server_writes(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[bytes]]:
    """Every write an in-process server makes to each connection, by the connection's name:
    how the server grouped its output, which the receiving side cannot tell (TCP merges)."""
    writes: defaultdict[str, list[bytes]] = defaultdict(list)
    deliver = Connection.deliver

    def recording(self: Connection, data: bytes) -> None:
        writes[self.name].append(data)
        deliver(self, data)

    monkeypatch.setattr(Connection, "deliver", recording)
    return writes
