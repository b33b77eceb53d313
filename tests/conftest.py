"""Shared fixtures: a fresh real server per test, on an ephemeral port."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator

import pytest

from tests.support.net import running_server
from wirechat_server.connection import Connection
from wirechat_server.server import ChatServer


@pytest.fixture
async def server() -> AsyncIterator[ChatServer]:
    """A server with the default settings but the port."""
    async with running_server() as running:
        yield running


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
