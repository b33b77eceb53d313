"""The language-neutral vectors in ``docs/test-vectors.json``, checked against the real codec.

The vectors' expected results are written by hand, not generated from this codec, so every check
here compares the codec with an independent statement of the protocol.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, get_args

import msgspec
import pytest

from tests.support.cases import CODEC_CODES
from wirechat_common import (
    MAX_FRAME_BYTES,
    MAX_NAME_LENGTH,
    MAX_ROOM_LENGTH,
    MAX_TEXT_BYTES,
    MAX_TOPIC_BYTES,
    MESSAGE_TYPES,
    PROTOCOL_VERSION,
    AnyMessage,
    ClientMessage,
    Decoder,
    ErrorCode,
    ProtocolError,
    ServerMessage,
    Who,
    encode,
)

VECTORS_PATH = Path(__file__).resolve().parents[2] / "docs" / "test-vectors.json"
VECTORS: dict[str, Any] = json.loads(VECTORS_PATH.read_text(encoding="utf-8"))
VALID: list[dict[str, Any]] = VECTORS["valid"]
INVALID: list[dict[str, Any]] = VECTORS["invalid"]

CLIENT_TYPES = frozenset(cls.__struct_config__.tag for cls in get_args(ClientMessage))
SERVER_TYPES = frozenset(cls.__struct_config__.tag for cls in get_args(ServerMessage))


def frame_bytes(vector: dict[str, Any]) -> bytes:
    if "frame_hex" in vector:
        return bytes.fromhex(vector["frame_hex"])
    frame: str = vector["frame"]
    return frame.encode("utf-8")


def frame_body_length(frame: bytes) -> int:
    """Bytes of the frame without its terminator (``\\n``, or ``\\r\\n``)."""
    assert frame.endswith(b"\n")
    body = frame[:-1]
    return len(body[:-1]) if body.endswith(b"\r") else len(body)


def full_builtins(message: AnyMessage) -> dict[str, Any]:
    """The message as JSON-ready builtins with every field, defaults included (also in the
    structs nested in ``room_list`` and ``history``, which ``msgspec.to_builtins`` would trim)."""
    result: Any = every_field(message)
    assert isinstance(result, dict)
    return result


def every_field(value: object) -> object:
    if isinstance(value, msgspec.Struct):
        config = value.__struct_config__
        result: dict[str, object] = {}
        if config.tag is not None:
            assert isinstance(config.tag_field, str)
            result[config.tag_field] = config.tag
        for field in value.__struct_fields__:
            result[field] = every_field(getattr(value, field))
        return result
    if isinstance(value, list):
        return [every_field(item) for item in value]
    if isinstance(value, dict):
        return {key: every_field(item) for key, item in value.items()}
    return msgspec.to_builtins(value)


def decoders_for(direction: str) -> list[Decoder]:
    """Every decoder that must accept a frame sent in ``direction``."""
    side = ClientMessage if direction == "client" else ServerMessage
    return [Decoder(types=side), Decoder()]


def decoder_for_accepts(accepts: str) -> Decoder:
    assert accepts in ("client", "any")
    return Decoder(types=ClientMessage) if accepts == "client" else Decoder()


def feed_byte_by_byte(decoder: Decoder, frame: bytes) -> list[AnyMessage]:
    messages: list[AnyMessage] = []
    for index in range(len(frame)):
        messages.extend(decoder.feed(frame[index : index + 1]))
    return messages


def vector_id(vector: dict[str, Any]) -> str:
    name: str = vector["name"]
    return name


# -- the file itself ---------------------------------------------------------------------------


def test_file_is_small_and_plain_json() -> None:
    raw = VECTORS_PATH.read_bytes()
    assert len(raw) < 300_000  # the 16 KiB frames and 4 KiB texts are most of it
    assert isinstance(json.loads(raw), dict)
    assert VECTORS["description"]


def test_limits_match_the_package() -> None:
    assert VECTORS["protocol_version"] == PROTOCOL_VERSION
    assert VECTORS["limits"] == {
        "max_frame_bytes": MAX_FRAME_BYTES,
        "max_text_bytes": MAX_TEXT_BYTES,
        "max_name_length": MAX_NAME_LENGTH,
        "max_room_length": MAX_ROOM_LENGTH,
        "max_topic_bytes": MAX_TOPIC_BYTES,
    }


def test_names_are_unique() -> None:
    names = [vector["name"] for vector in VALID + INVALID]
    assert len(names) == len(set(names))


def test_every_message_type_has_a_valid_canonical_vector() -> None:
    canonical_types = {v["message"]["type"] for v in VALID if v["canonical"]}
    assert canonical_types == set(MESSAGE_TYPES)


def test_every_field_is_sent_by_some_canonical_vector() -> None:
    """Each field of each message type appears in a canonical frame (so with a value other than
    its default): new optional fields do not go untested."""
    sent: dict[str, set[str]] = {tag: set() for tag in MESSAGE_TYPES}
    for vector in VALID:
        if vector["canonical"]:
            frame = json.loads(frame_bytes(vector))
            sent[frame["type"]].update(frame)
    for tag, cls in MESSAGE_TYPES.items():
        assert sent[tag] == {"type", *cls.__struct_fields__}, tag


def test_both_directions_covered_for_shared_types() -> None:
    for tag in CLIENT_TYPES & SERVER_TYPES:
        directions = {v["direction"] for v in VALID if v["message"]["type"] == tag}
        assert directions == {"client", "server"}, tag


def test_every_codec_error_code_has_an_invalid_vector() -> None:
    assert {v["code"] for v in INVALID} == set(CODEC_CODES)


def test_both_terminators_covered() -> None:
    frames = [frame_bytes(v) for v in VALID]
    assert any(frame.endswith(b"\r\n") for frame in frames)
    assert any(not frame.endswith(b"\r\n") for frame in frames)


def test_frame_size_boundaries_covered() -> None:
    valid_lengths = {frame_body_length(frame_bytes(v)) for v in VALID}
    too_large = [v for v in INVALID if v["code"] == ErrorCode.FRAME_TOO_LARGE]
    assert MAX_FRAME_BYTES in valid_lengths
    assert {frame_body_length(frame_bytes(v)) for v in too_large} == {MAX_FRAME_BYTES + 1}
    assert all(v["fatal"] for v in too_large)
    assert not any(v["fatal"] for v in INVALID if v["code"] != ErrorCode.FRAME_TOO_LARGE)


def test_text_size_boundaries_covered() -> None:
    def say_text_bytes(vector: dict[str, Any]) -> int:
        text: str = vector["message"]["text"]
        return len(text.encode("utf-8"))

    says = [v for v in VALID if v["message"]["type"] == "say"]
    at_limit = [v for v in says if say_text_bytes(v) == MAX_TEXT_BYTES]
    # At least one of them made of multibyte characters only.
    assert any(len(v["message"]["text"]) < MAX_TEXT_BYTES for v in at_limit)


def test_hex_only_where_needed() -> None:
    for vector in INVALID:
        if "frame_hex" in vector:
            with pytest.raises(UnicodeDecodeError):
                frame_bytes(vector).decode("utf-8")
        else:
            assert isinstance(vector["frame"], str)


def test_topic_size_boundaries_covered() -> None:
    def topic_bytes(vector: dict[str, Any]) -> int:
        return len(json.loads(frame_bytes(vector))["topic"].encode("utf-8"))

    valid = [v for v in VALID if v["message"]["type"] == "set_topic"]
    too_long = [
        v for v in INVALID if v["code"] == ErrorCode.TEXT_TOO_LONG and '"set_topic"' in v["frame"]
    ]
    assert MAX_TOPIC_BYTES in {topic_bytes(v) for v in valid}
    assert 0 in {topic_bytes(v) for v in valid}
    assert {topic_bytes(v) for v in too_long} == {MAX_TOPIC_BYTES + 1}


def test_room_length_boundaries_covered() -> None:
    joins = [json.loads(frame_bytes(v)) for v in VALID if v["message"]["type"] == "join"]
    refused = [
        json.loads(frame_bytes(v))
        for v in INVALID
        if v["code"] == ErrorCode.INVALID_ROOM and '"type":"join"' in v["frame"]
    ]
    assert {2, MAX_ROOM_LENGTH} <= {len(frame["room"]) for frame in joins}
    assert MAX_ROOM_LENGTH + 1 in {len(frame["room"]) for frame in refused}


def test_refused_says_echo_their_client_id() -> None:
    """Every invalid say that carries a well-formed client_id and fails a content rule states
    the client_id its error must echo."""
    content_codes = CODEC_CODES - {
        ErrorCode.FRAME_TOO_LARGE,
        ErrorCode.BAD_UTF8,
        ErrorCode.BAD_JSON,
        ErrorCode.UNKNOWN_TYPE,
        ErrorCode.INVALID_FIELD,
    }
    echoing = [
        v
        for v in INVALID
        if v["code"] in content_codes
        and '"type":"say"' in v.get("frame", "")
        and '"client_id"' in v["frame"]
    ]
    assert {v["code"] for v in echoing} >= {
        ErrorCode.INVALID_ROOM,
        ErrorCode.BAD_REQUEST,
        ErrorCode.INVALID_NAME,
        ErrorCode.INVALID_TEXT,
        ErrorCode.TEXT_TOO_LONG,
    }
    for vector in echoing:
        assert vector["client_id"] == json.loads(frame_bytes(vector))["client_id"]


# -- valid vectors -----------------------------------------------------------------------------


@pytest.mark.parametrize("vector", VALID, ids=vector_id)
def test_valid_vector_decodes_to_its_message(vector: dict[str, Any]) -> None:
    frame = frame_bytes(vector)
    expected_cls = MESSAGE_TYPES[vector["message"]["type"]]
    constructed = msgspec.convert(vector["message"], type=AnyMessage)
    for decoder in decoders_for(vector["direction"]):
        messages = decoder.feed(frame)
        assert len(messages) == 1
        (message,) = messages
        assert type(message) is expected_cls
        assert full_builtins(message) == vector["message"]
        assert message == constructed
        assert decoder.buffered == 0


@pytest.mark.parametrize("vector", VALID, ids=vector_id)
def test_valid_vector_decodes_byte_by_byte(vector: dict[str, Any]) -> None:
    frame = frame_bytes(vector)
    decoder = decoders_for(vector["direction"])[0]
    for index in range(len(frame) - 1):
        assert decoder.feed(frame[index : index + 1]) == []
    (message,) = decoder.feed(frame[-1:])
    assert full_builtins(message) == vector["message"]


@pytest.mark.parametrize("vector", VALID, ids=vector_id)
def test_valid_vector_is_refused_by_the_other_side(vector: dict[str, Any]) -> None:
    tag = vector["message"]["type"]
    side = ServerMessage if vector["direction"] == "client" else ClientMessage
    other_side_types = SERVER_TYPES if vector["direction"] == "client" else CLIENT_TYPES
    decoder = Decoder(types=side)
    if tag in other_side_types:
        assert len(decoder.feed(frame_bytes(vector))) == 1
    else:
        with pytest.raises(ProtocolError) as caught:
            decoder.feed(frame_bytes(vector))
        assert caught.value.code == ErrorCode.UNKNOWN_TYPE
        assert not caught.value.fatal


@pytest.mark.parametrize("vector", [v for v in VALID if v["canonical"]], ids=vector_id)
def test_canonical_vector_is_what_encode_emits(vector: dict[str, Any]) -> None:
    message = msgspec.convert(vector["message"], type=AnyMessage)
    assert encode(message) == frame_bytes(vector)


@pytest.mark.parametrize("vector", [v for v in VALID if not v["canonical"]], ids=vector_id)
def test_non_canonical_vector_reencodes_differently_but_equivalently(
    vector: dict[str, Any],
) -> None:
    (message,) = Decoder().feed(frame_bytes(vector))
    reencoded = encode(message)
    assert reencoded != frame_bytes(vector)  # else the vector should be marked canonical
    assert Decoder().feed(reencoded) == [message]


# -- the examples in docs/protocol.md ---------------------------------------------------------

PROTOCOL_PATH = VECTORS_PATH.parent / "protocol.md"
EXAMPLES = [
    line
    for block in re.findall(r"```json\n(.*?)```", PROTOCOL_PATH.read_text(encoding="utf-8"), re.S)
    for line in block.splitlines()
]


def test_protocol_md_has_an_example_of_every_message_type() -> None:
    assert {json.loads(line)["type"] for line in EXAMPLES} == set(MESSAGE_TYPES)


@pytest.mark.parametrize("line", EXAMPLES)
def test_protocol_md_examples_are_canonical_frames(line: str) -> None:
    """Every frame in a json block of the protocol document decodes, and is what the reference
    encoder would send: a client written from the document sends what the server expects."""
    frame = line.encode("utf-8") + b"\n"
    (message,) = Decoder().feed(frame)
    assert encode(message) == frame


# -- invalid vectors ---------------------------------------------------------------------------


@pytest.mark.parametrize("vector", INVALID, ids=vector_id)
def test_invalid_vector_raises_its_code(vector: dict[str, Any]) -> None:
    decoder = decoder_for_accepts(vector["accepts"])
    with pytest.raises(ProtocolError) as caught:
        decoder.feed(frame_bytes(vector))
    error = caught.value
    assert error.code == vector["code"]
    assert error.fatal is vector["fatal"]
    assert error.detail
    assert error.messages == []
    assert error.client_id == vector.get("client_id")


@pytest.mark.parametrize("vector", INVALID, ids=vector_id)
def test_invalid_vector_then_a_good_frame(vector: dict[str, Any]) -> None:
    """A non-fatal error consumes just the bad frame; a fatal one breaks the decoder for good."""
    decoder = decoder_for_accepts(vector["accepts"])
    good = b'{"type":"who"}\n'
    with pytest.raises(ProtocolError) as caught:
        decoder.feed(frame_bytes(vector) + good)
    assert caught.value.code == vector["code"]
    assert caught.value.messages == []
    if vector["fatal"]:
        with pytest.raises(ProtocolError) as again:
            decoder.feed(good)
        assert again.value.code == vector["code"]
        assert again.value.fatal
    else:
        assert decoder.feed(b"") == [Who()]
        assert decoder.buffered == 0


@pytest.mark.parametrize("vector", INVALID, ids=vector_id)
def test_invalid_vector_fed_byte_by_byte(vector: dict[str, Any]) -> None:
    decoder = decoder_for_accepts(vector["accepts"])
    frame = frame_bytes(vector)
    with pytest.raises(ProtocolError) as caught:
        feed_byte_by_byte(decoder, frame)
    assert caught.value.code == vector["code"]
    assert caught.value.fatal is vector["fatal"]
