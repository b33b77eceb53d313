"""Tables of protocol cases that several test modules run over (the codec on bytes, the server
over sockets), kept once so they cannot drift apart."""

from __future__ import annotations

from typing import Final

import pytest

from wirechat_common import MAX_NAME_LENGTH, ErrorCode

#: The error codes the codec itself raises; the others are session rules servers enforce.
CODEC_CODES: Final = frozenset(
    {
        ErrorCode.FRAME_TOO_LARGE,
        ErrorCode.BAD_UTF8,
        ErrorCode.BAD_JSON,
        ErrorCode.UNKNOWN_TYPE,
        ErrorCode.INVALID_FIELD,
        ErrorCode.INVALID_NAME,
        ErrorCode.INVALID_TEXT,
        ErrorCode.TEXT_TOO_LONG,
        ErrorCode.INVALID_ROOM,
        ErrorCode.BAD_REQUEST,
    }
)

#: Names the name rules refuse: wrong length, white space, invisible and look-alike characters,
#: control characters, and punctuation that means something elsewhere.
INVALID_NAMES: Final = [
    pytest.param("", id="empty"),
    pytest.param("a" * (MAX_NAME_LENGTH + 1), id="33-chars"),
    pytest.param(" bob", id="leading-space"),
    pytest.param("bob ", id="trailing-space"),
    pytest.param("b ob", id="inner-space"),
    pytest.param("alice\n", id="trailing-newline"),
    pytest.param("bob\r\nmallory", id="crlf"),
    pytest.param("bob\u200b", id="zero-width-space"),
    pytest.param("b\u202eob", id="rtl-override"),
    pytest.param("bob\x00", id="nul"),
    pytest.param("bob\x1b[31m", id="escape"),
    pytest.param("\u0412ob", id="cyrillic-ve"),
    pytest.param("\u0430lice", id="cyrillic-a"),
    pytest.param("\u212a", id="kelvin-sign"),
    pytest.param("b\u00f6b", id="latin-1"),
    pytest.param("\uff41lice", id="fullwidth-a"),
    pytest.param("a\u0661", id="arabic-indic-digit"),
    pytest.param("\U0001f600", id="emoji"),
    pytest.param("_alice", id="leading-underscore"),
    pytest.param("-bob", id="leading-dash"),
    pytest.param(".", id="a-dot"),
    pytest.param("...", id="dots"),
    pytest.param("bob:", id="colon"),
    pytest.param("a@b", id="at-sign"),
    pytest.param("a/b", id="slash"),
]
