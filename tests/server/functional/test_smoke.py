"""The lab transcript, end to end: the first thing that must always work."""

from __future__ import annotations

from tests.support.net import run_lab_transcript
from wirechat_server.server import ChatServer


async def test_lab_transcript_plain_and_native(server: ChatServer) -> None:
    _, ash = await run_lab_transcript(server)
    await ash.close()
