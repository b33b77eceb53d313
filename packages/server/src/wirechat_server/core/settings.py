"""The core's settings, read from the server's configuration, and its clock."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ChatSettings:
    """The core's limits and the server's announced ones (0: not announced or none)."""

    server_name: str = "wirechat"
    max_text_bytes: int = 0
    max_frame_bytes: int = 0
    msg_burst: int = 0
    msg_rate: float = 0.0
    history_on_join: int = 50
    max_history: int = 200
    max_rooms_per_user: int = 50
    max_rooms: int = 10_000
    max_rooms_per_ip: int = 500
    rooms_page: int = 100
    session_ttl: float = 86_400.0
    max_sessions: int = 10_000
    max_sessions_per_ip: int = 100
    welcome_users: int = 100

    @classmethod
    def from_config(cls, config: object, *, server_name: str) -> ChatSettings:
        """The settings of these names that ``config`` (the server's) has, and ``server_name``.
        Read by name, so a setting added here is taken from the server's config without a
        second list to keep in step."""
        taken = {
            field.name: getattr(config, field.name)
            for field in dataclasses.fields(cls)
            if hasattr(config, field.name)
        }
        return cls(**{**taken, "server_name": server_name})


def now_ms() -> int:
    """The current UTC time in milliseconds since the Unix epoch (the protocol's ``ts``)."""
    return time.time_ns() // 1_000_000
