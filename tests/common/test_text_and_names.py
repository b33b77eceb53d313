"""Table tests for the text and name rules: check_text, sanitize_text, check_name, name_key."""

from __future__ import annotations

import pytest

from tests.support.cases import INVALID_NAMES
from wirechat_common import (
    MAX_NAME_LENGTH,
    MAX_TEXT_BYTES,
    ErrorCode,
    ProtocolError,
    check_name,
    check_text,
    is_valid_name,
    name_key,
    sanitize_text,
)

FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467"  # man ZWJ woman ZWJ girl
RAINBOW_FLAG = "\U0001f3f3\ufe0f\u200d\U0001f308"
PERSIAN_ZWNJ = "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"  # uses ZERO WIDTH NON-JOINER
DEVANAGARI_ZWJ = "\u0915\u094d\u200d\u0937"

# -- check_text --------------------------------------------------------------------------------

VALID_TEXTS = [
    pytest.param("hello", id="ascii"),
    pytest.param("a\tb", id="tab"),
    pytest.param("\t", id="only a tab"),
    pytest.param(" ", id="one space"),
    pytest.param(FAMILY, id="ZWJ family emoji"),
    pytest.param(RAINBOW_FLAG, id="ZWJ flag with variation selector"),
    pytest.param(PERSIAN_ZWNJ, id="Persian with ZWNJ"),
    pytest.param(DEVANAGARI_ZWJ, id="Devanagari with ZWJ"),
    pytest.param("\u200d", id="lone ZWJ"),
    pytest.param("a\u200bb", id="zero-width space"),
    pytest.param("\u00a0nbsp", id="no-break space"),
    pytest.param("\u202f\u2060", id="narrow nbsp and word joiner"),
    pytest.param("\u200e\u200f", id="LRM and RLM marks"),
    pytest.param("\u00a0\u00ff", id="Latin-1 after C1"),
    pytest.param("\u2027\u202f", id="neighbours of the separators and bidi range"),
    pytest.param("\u2065\u206a", id="neighbours of the isolates"),
    pytest.param("caf\u00e9 \u65e5\u672c \U0001f600", id="multibyte"),
    pytest.param("a" * MAX_TEXT_BYTES, id="4096 ascii"),
    pytest.param("\u00e9" * (MAX_TEXT_BYTES // 2), id="4096 bytes of 2-byte chars"),
    pytest.param("\u20ac" * (MAX_TEXT_BYTES // 3) + "a", id="4096 bytes of 3-byte chars"),
    pytest.param("\U0001f600" * (MAX_TEXT_BYTES // 4), id="4096 bytes of 4-byte chars"),
]


@pytest.mark.parametrize("text", VALID_TEXTS)
def test_check_text_accepts(text: str) -> None:
    assert check_text(text) == text


INVALID_TEXTS = [
    pytest.param("", "invalid_text", id="empty"),
    pytest.param("\x00", "invalid_text", id="NUL"),
    pytest.param("\x08", "invalid_text", id="backspace"),
    pytest.param("a\nb", "invalid_text", id="LF"),
    pytest.param("a\rb", "invalid_text", id="CR"),
    pytest.param("a\r\nb", "invalid_text", id="CRLF"),
    pytest.param("\x0b\x0c", "invalid_text", id="VT and FF"),
    pytest.param("\x1b[31mred", "invalid_text", id="ESC"),
    pytest.param("\x1f", "invalid_text", id="unit separator"),
    pytest.param("\x7f", "invalid_text", id="DEL"),
    pytest.param("\x80", "invalid_text", id="first C1"),
    pytest.param("\x85", "invalid_text", id="NEL"),
    pytest.param("\x9b2J", "invalid_text", id="CSI"),
    pytest.param("\x9f", "invalid_text", id="last C1"),
    pytest.param("a\u2028b", "invalid_text", id="line separator"),
    pytest.param("a\u2029b", "invalid_text", id="paragraph separator"),
    pytest.param("\u202a", "invalid_text", id="LRE"),
    pytest.param("\u202b", "invalid_text", id="RLE"),
    pytest.param("\u202c", "invalid_text", id="PDF"),
    pytest.param("\u202d", "invalid_text", id="LRO"),
    pytest.param("abc\u202edef", "invalid_text", id="RLO"),
    pytest.param("\u2066", "invalid_text", id="LRI"),
    pytest.param("\u2067", "invalid_text", id="RLI"),
    pytest.param("\u2068", "invalid_text", id="FSI"),
    pytest.param("\u2069", "invalid_text", id="PDI"),
    pytest.param(FAMILY + "\x1b", "invalid_text", id="emoji then ESC"),
    pytest.param("a" * (MAX_TEXT_BYTES + 1), "text_too_long", id="4097 ascii"),
    pytest.param("\u00e9" * (MAX_TEXT_BYTES // 2) + "a", "text_too_long", id="2-byte + 1"),
    pytest.param("a" * (MAX_TEXT_BYTES - 1) + "\u00e9", "text_too_long", id="4095 chars"),
    pytest.param(
        "\U0001f600" * (MAX_TEXT_BYTES // 4) + "a", "text_too_long", id="1025 chars, 4097 bytes"
    ),
    pytest.param("\U0001f600" * (MAX_TEXT_BYTES // 4 + 1), "text_too_long", id="1025 4-byte chars"),
]


@pytest.mark.parametrize(("text", "code"), INVALID_TEXTS)
def test_check_text_refuses(text: str, code: str) -> None:
    with pytest.raises(ProtocolError) as caught:
        check_text(text)
    assert caught.value.code == code
    assert caught.value.detail
    assert not caught.value.fatal


@pytest.mark.parametrize(
    ("text", "max_bytes", "code"),
    [
        ("abc", 3, None),
        ("abcd", 3, "text_too_long"),
        ("\u00e9", 2, None),
        ("\u00e9", 1, "text_too_long"),
        ("\U0001f600", 4, None),
        ("\U0001f600", 3, "text_too_long"),
        ("a\u00e9\U0001f600", 7, None),
        ("a\u00e9\U0001f600", 6, "text_too_long"),
        ("x" * 5000, 5000, None),
    ],
)
def test_check_text_max_bytes(text: str, max_bytes: int, code: str | None) -> None:
    if code is None:
        assert check_text(text, max_bytes) == text
    else:
        with pytest.raises(ProtocolError) as caught:
            check_text(text, max_bytes)
        assert caught.value.code == code


def test_check_text_names_the_offending_character() -> None:
    with pytest.raises(ProtocolError) as caught:
        check_text("ok\u202eko")
    assert "U+202E" in caught.value.detail


# -- sanitize_text -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        pytest.param("\x1b[31mred", "\u241b[31mred", id="ESC as a control picture"),
        pytest.param("\x00", "\u2400", id="NUL"),
        pytest.param("a\nb\rc", "a\u240ab\u240dc", id="LF and CR"),
        pytest.param("\x1f", "\u241f", id="unit separator"),
        pytest.param("\x7f", "\u2421", id="DEL"),
        pytest.param("\x9b2J", "\ufffd2J", id="CSI"),
        pytest.param("\x80\x9f", "\ufffd\ufffd", id="C1 ends"),
        pytest.param("a\u2028b\u2029", "a\ufffdb\ufffd", id="separators"),
        pytest.param("\u202eabc\u2069", "\ufffdabc\ufffd", id="bidi"),
        pytest.param("a\tb", "a\tb", id="tab kept"),
        pytest.param(FAMILY, FAMILY, id="ZWJ emoji kept"),
        pytest.param("caf\u00e9", "caf\u00e9", id="plain text kept"),
        pytest.param("", "", id="empty"),
    ],
)
def test_sanitize_text(text: str, shown: str) -> None:
    assert sanitize_text(text) == shown


# -- check_name, is_valid_name, name_key -------------------------------------------------------

VALID_NAMES = [
    "a",
    "alice",
    "Alice",
    "bob_2",
    "x.y-z",
    "0",
    "9_",
    "A" * MAX_NAME_LENGTH,
    "Az09_.-",
]


@pytest.mark.parametrize("name", VALID_NAMES)
def test_check_name_accepts(name: str) -> None:
    assert check_name(name) == name
    assert is_valid_name(name)


@pytest.mark.parametrize("name", INVALID_NAMES)
def test_check_name_refuses(name: str) -> None:
    assert not is_valid_name(name)
    with pytest.raises(ProtocolError) as caught:
        check_name(name)
    assert caught.value.code == ErrorCode.INVALID_NAME
    assert caught.value.detail
    assert not caught.value.fatal


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("alice", "Alice", True),
        ("ALICE", "alice", True),
        ("bob_2", "BOB_2", True),
        ("alice", "alice_", False),
        ("a.b", "a-b", False),
        ("al1ce", "alice", False),
    ],
)
def test_name_key(a: str, b: str, same: bool) -> None:
    assert (name_key(a) == name_key(b)) is same
