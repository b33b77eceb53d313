"""The server's settings: one frozen dataclass, with each one's flag, environment variable and help.

Every limit the server enforces is a field here, so it can be found, documented and tuned in one
place. Each field ``some_limit`` is set by the flag ``--some-limit`` or the environment variable
``WIRECHAT_SOME_LIMIT``; a flag wins over the environment, which wins over the default. The defaults
are chosen from what mature chat servers ship (Ergo, ngIRCd, InspIRCd, Redis, NATS); the reason for
each number is in its help text.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from wirechat_common import MAX_FRAME_BYTES, MAX_HISTORY, MAX_TEXT_BYTES

from .addresses import Origins
from .listeners import ListenerSpec, parse_listeners

ENV_PREFIX: Final = "WIRECHAT_"
LOG_LEVELS: Final = ("debug", "info", "warning", "error")
STORAGE_KINDS: Final = ("sqlite", "none")
#: The message database's file name inside data_dir.
DATABASE_NAME: Final = "messages.sqlite3"
MIB: Final = 1024 * 1024
GIB: Final = 1024 * MIB
HOUR: Final = 3600.0
DAY: Final = 24 * HOUR
WEEK: Final = 7 * DAY
_ZERO_ALLOWED: Final = frozenset(
    {
        "port",
        "coalesce_delay",
        "max_store_bytes",
        "min_free_disk",
        "msg_rate",
        "history_on_join",
        "plain_history_lines",
        "idempotency_window",
        "retention_days",
        "retention_per_room",
    }
)


def _setting(
    default: Any, help: str, *, metavar: str | None = None, most: float | None = None
) -> Any:
    """A setting's field. A number's range is zero (if in ``_ZERO_ALLOWED``, else just above
    it) to ``most``: every number has one, so that no value can switch a limit off by
    accident (a huge count, ``inf`` or ``nan`` seconds)."""
    if isinstance(default, (int, float)) and most is None:
        raise TypeError("a numeric setting needs its upper bound (most=)")
    return field(default=default, metadata={"help": help, "metavar": metavar, "most": most})


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """Everything ``chat-server`` can be told; see ``chat-server --help`` or the README."""

    host: str = _setting("127.0.0.1", "address to listen on (0.0.0.0 for every interface)")
    port: int = _setting(5001, "TCP port to listen on (0 picks a free one)", most=65_535)
    listen: str = _setting(
        "",
        "more addresses to listen on, comma-separated: HOST:PORT or [IPV6]:PORT, each "
        "optionally =DIALECTS to serve only those (native, plain; joined by +), e.g. "
        "'[::1]:5001,127.0.0.1:6000=plain'",
        metavar="ADDRESSES",
    )
    log_level: str = _setting("info", "logging threshold: debug, info, warning or error")
    max_connections: int = _setting(
        1000,
        "connections served at once; past it a newcomer gets an error line and is closed "
        "(the soft file-descriptor limit is raised to fit at start)",
        most=1_000_000,
    )
    max_connections_per_ip: int = _setting(
        16,
        "connections served at once from one IP address (prefix; exempt_addresses are not "
        "counted); "
        "past it: too_many_connections",
        most=1_000_000,
    )
    ipv4_prefix: int = _setting(
        32,
        "per-address limits count IPv4 addresses by this prefix (32: each address alone)",
        most=32,
    )
    ipv6_prefix: int = _setting(
        64,
        "per-address limits count IPv6 addresses by this prefix (64: a household or a host)",
        most=128,
    )
    exempt_addresses: str = _setting(
        "127.0.0.1,::1",
        "addresses no per-address limit applies to, comma-separated (loopback: a local "
        "bridge or benchmark is not an attacker; empty: none)",
        metavar="ADDRESSES",
    )
    connect_rate_per_ip: int = _setting(
        32,
        "new connections one IP address may open per minute, in a burst or spread out "
        "(exempt_addresses are not counted); past it: too_many_connections",
        most=1_000_000,
    )
    max_text_bytes: int = _setting(
        MAX_TEXT_BYTES,
        "longest message text in bytes of UTF-8; longer text is refused, not cut",
        most=MAX_FRAME_BYTES,
    )
    max_frame_bytes: int = _setting(
        MAX_FRAME_BYTES,
        "longest native frame in bytes; a longer one (or that many bytes without a newline) "
        "gets frame_too_large and the connection is closed",
        most=16 * MIB,
    )
    max_line_bytes: int = _setting(
        8192,
        "longest plain-text line in bytes; past it the connection is closed",
        most=16 * MIB,
    )
    register_timeout: float = _setting(
        60.0,
        "seconds a new connection has to register (send its name) before it is closed",
        most=HOUR,
    )
    pre_register_max_frames: int = _setting(
        8,
        "native frames a client may send until its hello succeeds, that hello included; "
        "past it: register_abuse, closed",
        most=1_000,
    )
    plain_name_wait: float = _setting(
        0.3,
        "seconds a plain-text client's first chunk may wait for a newline before it is taken "
        "as the name (the lab client sends its name with no newline)",
        most=60.0,
    )
    idle_ping_interval: float = _setting(
        60.0,
        "seconds of silence from a native client before the server pings it",
        most=DAY,
    )
    idle_timeout: float = _setting(
        30.0,
        "seconds a pinged native client has to answer before it is dropped (timeout)",
        most=HOUR,
    )
    keepalive_idle: int = _setting(
        60,
        "TCP keepalive: seconds idle before the first probe (finds dead plain-text peers)",
        most=32_767,
    )
    keepalive_interval: int = _setting(10, "TCP keepalive: seconds between probes", most=32_767)
    keepalive_count: int = _setting(
        6, "TCP keepalive: unanswered probes before the peer is dead", most=127
    )
    max_output_buffer: int = _setting(
        256 * 1024,
        "bytes of unsent output a client may owe before it is cut off as too_slow "
        "(the others are never slowed down by it)",
        most=GIB,
    )
    soft_output_buffer: int = _setting(
        64 * 1024,
        "bytes of unsent output past which the server stops reading that client's own "
        "requests until it catches up",
        most=GIB,
    )
    socket_send_buffer: int = _setting(
        64 * 1024,
        "bytes the kernel may hold unsent for one client (SO_SNDBUF; Linux doubles it for "
        "its bookkeeping): with max_output_buffer it bounds what a client that stops reading "
        "costs the server",
        most=64 * MIB,
    )
    write_timeout: float = _setting(
        10.0,
        "seconds a client's unsent output may go without draining before: too_slow",
        most=HOUR,
    )
    coalesce_delay: float = _setting(
        0.002,
        "on a busy server, seconds messages gather before they are stored and written out: "
        "messages sent at about the same time then cost one commit and one write per "
        "recipient, not one each. After a quiet moment (nothing written for ten times this) a "
        "message waits for nothing (0: never wait)",
        most=0.1,
    )
    msg_burst: int = _setting(
        10,
        "requests a user (all its connections together) may send at once before the rate "
        "limit applies (a short paste)",
        most=100_000,
    )
    msg_rate: float = _setting(
        2.0,
        "requests per second a user (all its connections together) may sustain past the "
        "burst; excess requests are delayed, not dropped (0 turns the limit off)",
        most=100_000.0,
    )
    flood_backlog: float = _setting(
        10.0,
        "seconds of delayed requests a client may have queued before it is cut off (flood)",
        most=HOUR,
    )
    max_consecutive_errors: int = _setting(
        10,
        "refused requests in a row before the client is cut off (protocol_violation)",
        most=100_000,
    )
    shutdown_timeout: float = _setting(
        3.0,
        "seconds clients get to receive the shutdown notice before they are cut",
        most=HOUR,
    )
    storage: str = _setting(
        "sqlite",
        "where messages are kept: sqlite (durable history in data_dir) or none (relay only: "
        "no history, nothing survives a restart)",
    )
    data_dir: str = _setting(
        "",
        "directory of the message database, messages.sqlite3 (empty: $XDG_DATA_HOME/wirechat, "
        "that is ~/.local/share/wirechat by default)",
        metavar="DIR",
    )
    storage_sync: str = _setting(
        "full",
        "full: every commit is fsynced and survives a power cut; normal: survives a crash of "
        "the server but may lose the last commits on power loss, for more throughput",
    )
    max_store_bytes: int = _setting(
        0,
        "the most the message database may take on disk, in bytes; past it new messages get "
        "storage_full while history can still be read (0: no cap)",
        most=2**50,
    )
    min_free_disk: int = _setting(
        64 * MIB,
        "free bytes the data directory's disk must keep; under it new messages get "
        "storage_full while history can still be read (0: no floor)",
        most=2**50,
    )
    write_queue: int = _setting(
        10_000,
        "messages that may wait for the disk at once; past it a say gets busy",
        most=10_000_000,
    )
    idempotency_window: float = _setting(
        86_400.0,
        "seconds during which a resent message (same sender, same client_id) is recognised "
        "and not stored or relayed again",
        most=30 * DAY,
    )
    history_on_join: int = _setting(
        50,
        "messages a native client gets when joining a room (and the default page size)",
        most=MAX_HISTORY,
    )
    plain_history_lines: int = _setting(
        20,
        "lobby lines a plain-text user gets right after the welcome line (0: none)",
        most=MAX_HISTORY,
    )
    max_history: int = _setting(
        200,
        "most messages one history page may hold; a larger request: history_window_too_large",
        most=MAX_HISTORY,
    )
    max_rooms_per_user: int = _setting(
        50,
        "rooms one connection may be in at once; past it: too_many_rooms",
        most=100_000,
    )
    max_rooms: int = _setting(
        10_000,
        "rooms with members the server keeps at once; past it: too_many_rooms",
        most=10_000_000,
    )
    max_rooms_per_ip: int = _setting(
        500,
        "rooms that users from one address (prefix) may have made and that still exist; past "
        "it a new room gets too_many_rooms, so a few addresses cannot take every room",
        most=10_000_000,
    )
    rooms_page: int = _setting(
        100,
        "rooms one room_list carries at most (the rest follow page by page): a listing of "
        "10,000 rooms cost 8.4 ms and 540 KB a request in one piece",
        most=10_000,
    )
    retention_days: float = _setting(
        0.0,
        "delete messages older than this many days (0: keep them)",
        most=100_000.0,
    )
    retention_per_room: int = _setting(
        0, "keep at most this many messages per room (0: no limit)", most=10**12
    )
    retention_interval: float = _setting(
        3600.0,
        "seconds between retention passes (the first one interval after the start)",
        most=WEEK,
    )
    session_ttl: float = _setting(
        86_400.0,
        "seconds a user's session outlives its last connection: a reconnect within it takes "
        "the name back and keeps reading its direct messages",
        most=365 * DAY,
    )
    max_sessions_per_ip: int = _setting(
        100,
        "sessions of disconnected users kept for one address (prefix); past it that "
        "address's own oldest go first, so throwaway registrations cannot evict everyone's",
        most=10_000_000,
    )
    max_sessions: int = _setting(
        10_000,
        "sessions of disconnected users kept at once (the oldest go first)",
        most=10_000_000,
    )
    welcome_users: int = _setting(
        100,
        "names a welcome lists at most (the rest are counted; each room's member list comes "
        "with its room frame): keeps a join O(1) in the welcome, not O(users)",
        most=100_000,
    )

    def __post_init__(self) -> None:
        if self.log_level not in LOG_LEVELS:
            raise ValueError(f"log_level must be one of {', '.join(LOG_LEVELS)}")
        for item in dataclasses.fields(self):
            value = getattr(self, item.name)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                _check_range(item.name, value, item.metadata["most"])
        if self.storage not in STORAGE_KINDS:
            raise ValueError(f"storage must be one of {', '.join(STORAGE_KINDS)}")
        if self.soft_output_buffer > self.max_output_buffer:
            raise ValueError("soft_output_buffer must not exceed max_output_buffer")
        if self.storage_sync not in ("full", "normal"):
            raise ValueError("storage_sync must be full or normal")
        if self.history_on_join > self.max_history:
            raise ValueError("history_on_join must not exceed max_history")
        if self.max_text_bytes > self.max_line_bytes:
            raise ValueError("max_text_bytes must not exceed max_line_bytes")
        if self.max_text_bytes > self.max_frame_bytes:
            raise ValueError("max_text_bytes must not exceed max_frame_bytes")
        parse_listeners(self.listen)  # raises ValueError for an entry it cannot read
        self.origins  # noqa: B018 - raises ValueError for an exempt entry that is no address

    @property
    def origins(self) -> Origins:
        """How the per-address limits group addresses (see :mod:`.addresses`)."""
        return Origins.from_settings(self.ipv4_prefix, self.ipv6_prefix, self.exempt_addresses)

    @property
    def listeners(self) -> list[ListenerSpec]:
        """Every address to listen on: ``host``:``port`` for all dialects, then ``listen``'s."""
        return [ListenerSpec(self.host, self.port), *parse_listeners(self.listen)]

    @property
    def database(self) -> Path:
        """The message database file."""
        if self.data_dir:
            return Path(self.data_dir).expanduser() / DATABASE_NAME
        base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
        return Path(base) / "wirechat" / DATABASE_NAME

    @property
    def sweep_interval(self) -> float:
        """How often timers are checked: fine enough for the shortest timeout, at most 1 s."""
        shortest = min(
            self.register_timeout,
            self.idle_ping_interval,
            self.idle_timeout,
            self.write_timeout,
        )
        return max(0.02, min(1.0, shortest / 4))


def _check_range(name: str, value: float, most: float) -> None:
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value}")
    if value < 0 or (value == 0 and name not in _ZERO_ALLOWED):
        raise ValueError(f"{name} must be positive, got {value}")
    if value > most:
        raise ValueError(f"{name} must be at most {most:,}, got {value:,}")


_CHOICES: Final = {
    "log_level": LOG_LEVELS,
    "storage": STORAGE_KINDS,
    "storage_sync": ("full", "normal"),
}


def env_name(field_name: str) -> str:
    """The environment variable for a setting: ``max_text_bytes`` -> ``WIRECHAT_MAX_TEXT_BYTES``."""
    return ENV_PREFIX + field_name.upper()


def flag_name(field_name: str) -> str:
    """The command-line flag for a setting: ``max_text_bytes`` -> ``--max-text-bytes``."""
    return "--" + field_name.replace("_", "-")


def _parse(kind: Any, text: str) -> Any:
    if kind in (int, "int"):
        return int(text)
    if kind in (float, "float"):
        return float(text)
    return text


def _parser_for(kind: Any) -> Any:
    def parse(text: str) -> Any:
        return _parse(kind, text)

    parse.__name__ = str(kind)  # argparse names the type in its error messages
    return parse


def _limits(item: dataclasses.Field[Any]) -> str:
    """The default and, for a number, the most allowed, as the help shows them."""
    shown = f"default: {item.default}; " if item.default != "" else ""
    most = item.metadata["most"]
    return shown + (f"at most {most:,}; " if most is not None else "")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add one flag per setting, each with its default and environment variable in the help."""
    for item in dataclasses.fields(ServerConfig):
        parser.add_argument(
            flag_name(item.name),
            dest=item.name,
            type=_parser_for(item.type),
            default=None,
            metavar=item.metadata["metavar"] or item.name.split("_")[-1].upper(),
            choices=_CHOICES.get(item.name),
            help=f"{item.metadata['help']} ({_limits(item)}env {env_name(item.name)})",
        )


def config_from(
    args: argparse.Namespace | None = None, environ: Mapping[str, str] | None = None
) -> ServerConfig:
    """Build the configuration: flags in ``args`` over ``environ`` over the defaults."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for item in dataclasses.fields(ServerConfig):
        given = getattr(args, item.name, None) if args is not None else None
        if given is not None:
            values[item.name] = given
        elif env_name(item.name) in environ:
            raw = environ[env_name(item.name)]
            try:
                values[item.name] = _parse(item.type, raw)
            except ValueError:
                raise ValueError(
                    f"{env_name(item.name)}={raw!r} is not a valid {item.type}"
                ) from None
    return ServerConfig(**values)


def describe(config: ServerConfig) -> Sequence[tuple[str, Any]]:
    """Every setting's name and value, for the startup log."""
    return [(item.name, getattr(config, item.name)) for item in dataclasses.fields(config)]
