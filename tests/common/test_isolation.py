"""wirechat_common is sans-I/O: importing it must not pull in an event loop, sockets or a UI."""

from __future__ import annotations

import pytest

from tests.support.imports import modules_loaded_after as loaded_after

FORBIDDEN_MODULES = ("asyncio", "socket", "textual", "rich")


def modules_loaded_after(statement: str) -> set[str]:
    return loaded_after(statement, FORBIDDEN_MODULES)


@pytest.mark.parametrize(
    "statement",
    [
        "import wirechat_common",
        "from wirechat_common import Decoder, encode, Say; Decoder().feed(encode(Say(text='x')))",
        "import wirechat_common.codec, wirechat_common.framing, wirechat_common.text",
        "from wirechat_common.wording import LAB_LEAVE_WORDING, people_here",
    ],
)
def test_importing_wirechat_common_loads_no_io_or_ui_module(statement: str) -> None:
    assert modules_loaded_after(statement) == set()


def test_the_check_can_see_a_loaded_module() -> None:
    """The subprocess check is not blind: it reports a module that is imported."""
    assert modules_loaded_after("import wirechat_common, asyncio") >= {"asyncio", "socket"}
