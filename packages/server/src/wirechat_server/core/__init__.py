"""The chat core, with no I/O: users, rooms, relay and history (see :mod:`.chat`).

Importing it loads no event loop, socket, thread or database driver (tests/server/
test_layers.py checks), so it can be driven and tested without any.
"""

from __future__ import annotations

from .chat import ChatCore
from .client import Client
from .rooms import ChatRoom
from .settings import ChatSettings, now_ms

__all__ = ["ChatCore", "ChatRoom", "ChatSettings", "Client", "now_ms"]
