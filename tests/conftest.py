"""Shared fixtures: a fresh real server per test, on an ephemeral port."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.helpers import running_server
from wirechat_server.server import ChatServer


@pytest.fixture
async def server() -> AsyncIterator[ChatServer]:
    """A server with the default settings but the port."""
    async with running_server() as running:
        yield running
