"""The documentation keeps up with the code: every setting, message type and error code is in it."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from wirechat_common import MESSAGE_TYPES, ErrorCode, LeaveReason
from wirechat_server.config import ServerConfig, env_name, flag_name

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
PROTOCOL = (ROOT / "docs" / "protocol.md").read_text(encoding="utf-8")
SETTINGS = [item.name for item in dataclasses.fields(ServerConfig)]


@pytest.mark.parametrize("name", SETTINGS)
def test_readme_lists_every_server_setting(name: str) -> None:
    assert f"`{flag_name(name)}`" in README
    assert f"`{env_name(name)}`" in README


@pytest.mark.parametrize("tag", sorted(MESSAGE_TYPES))
def test_protocol_documents_every_message_type(tag: str) -> None:
    assert f'"type":"{tag}"' in PROTOCOL, f"no example frame of {tag!r}"


@pytest.mark.parametrize("code", [code.value for code in ErrorCode])
def test_protocol_documents_every_error_code(code: str) -> None:
    assert f"| `{code}` |" in PROTOCOL


@pytest.mark.parametrize("reason", [reason.value for reason in LeaveReason])
def test_protocol_documents_every_leave_reason(reason: str) -> None:
    assert f"| `{reason}` |" in PROTOCOL


def test_readme_names_the_two_newcomer_commands() -> None:
    assert "uv run chat-server" in README
    assert "uv run pytest" in README


def test_every_file_the_architecture_page_names_exists() -> None:
    """docs/architecture.md is how a newcomer finds their way: its paths must be real."""
    page = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`((?:[\w.]+/)*[\w*]+\.(?:py|md)|[\w]+/)`", page))
    assert len(named) > 20, named  # the page does name the files; the pattern is not blind
    bases = (ROOT / "packages" / "server" / "src", ROOT / "docs", ROOT / "tests")
    missing = sorted(
        name
        for name in named
        if "NAME" not in name  # "dialects/NAME.py": the file one would add
        and not list(ROOT.glob(name))
        and not any(list(base.glob(f"**/{name}")) for base in bases)
    )
    assert missing == []
