"""The chat core without sockets: who receives what, in which order, within one loop turn.

The members here are plain recorders of the bytes the core hands them; the core, its wire
formats and the codec are the real ones.
"""

from __future__ import annotations

from collections.abc import Callable

from wirechat_common import Ack, Decoder, Joined, LeaveReason, Left, Message, ServerMessage, Welcome
from wirechat_common.messages import AnyMessage
from wirechat_server.chat import ChatCore, WireFormat
from wirechat_server.native import NATIVE
from wirechat_server.plaintext import PLAIN


class Recorder:
    """A member that keeps every write the core makes to it."""

    def __init__(self, wire: WireFormat = NATIVE) -> None:
        self.name = ""
        self.wire = wire
        self.fanout_mark: int | None = None
        self.writable = True
        self.writes: list[bytes] = []

    def deliver(self, data: bytes) -> None:
        self.writes.append(data)

    def messages(self) -> list[AnyMessage]:
        return Decoder(1 << 24, types=ServerMessage).feed(b"".join(self.writes))


def core() -> tuple[ChatCore, list[Callable[[], None]]]:
    scheduled: list[Callable[[], None]] = []
    return ChatCore(schedule=scheduled.append, clock=lambda: 1000), scheduled


def summary(messages: list[AnyMessage]) -> list[str]:
    out = []
    for message in messages:
        match message:
            case Message(sender=sender, text=text):
                out.append(f"{sender}:{text}")
            case Ack(client_id=client_id):
                out.append(f"ack:{client_id}")
            case Joined(name=name):
                out.append(f"+{name}")
            case Left(name=name):
                out.append(f"-{name}")
            case Welcome(name=name):
                out.append(f"welcome:{name}")
    return out


def test_senders_in_one_turn_get_the_others_lines_and_their_own_acks_in_order() -> None:
    chat, scheduled = core()
    a, b, c = Recorder(), Recorder(), Recorder(PLAIN)
    for member, name in ((a, "a"), (b, "b"), (c, "c")):
        chat.join(member, name)
    chat.flush()
    for member in (a, b, c):
        member.writes.clear()

    chat.say(a, "1", client_id="a1")
    chat.say(b, "2", client_id="b1")
    chat.say(a, "3", client_id="a2")
    assert len(scheduled) == 2  # one flush per turn with something to deliver
    chat.flush()

    assert summary(a.messages()) == ["ack:a1", "b:2", "ack:a2"]
    assert summary(b.messages()) == ["a:1", "ack:b1", "a:3"]
    assert c.writes == [b"a: 1\nb: 2\na: 3\n"]  # one write, plain lines, no acks
    assert len(a.writes) == len(b.writes) == 1


def test_a_member_joining_mid_turn_gets_its_welcome_first_and_nothing_from_before() -> None:
    chat, _ = core()
    a, late = Recorder(), Recorder()
    chat.join(a, "a")
    chat.flush()
    a.writes.clear()

    chat.say(a, "before")
    chat.join(late, "late")
    chat.say(a, "after")
    chat.flush()

    assert summary(late.messages()) == ["welcome:late", "a:after"]
    assert summary(a.messages()) == ["ack:None", "+late", "ack:None"]


def test_a_leaving_member_gets_what_it_was_owed_and_the_others_hear_it_leave() -> None:
    chat, _ = core()
    a, b = Recorder(), Recorder()
    chat.join(a, "a")
    chat.join(b, "b")
    chat.flush()
    a.writes.clear()
    b.writes.clear()

    chat.say(a, "last words")
    chat.say(b, "reply", client_id="r")
    chat.leave(b, LeaveReason.QUIT)
    chat.say(a, "anyone?")
    chat.flush()

    assert summary(b.messages()) == ["a:last words", "ack:r"]
    assert summary(a.messages()) == ["ack:None", "b:reply", "-b", "ack:None"]


def test_a_member_that_cannot_be_written_to_costs_no_rendering_on_leave() -> None:
    chat, _ = core()
    a, gone = Recorder(), Recorder()
    chat.join(a, "a")
    chat.join(gone, "gone")
    chat.flush()
    gone.writes.clear()
    chat.say(a, "x")
    gone.writable = False
    chat.leave(gone, LeaveReason.DROPPED)
    chat.flush()
    assert gone.writes == []


def test_a_thousand_senders_in_one_turn_each_get_everyone_elses_lines() -> None:
    chat, _ = core()
    members = [Recorder() for _ in range(1000)]
    for index, member in enumerate(members):
        chat.join(member, f"u{index}")
    chat.flush()
    for member in members:
        member.writes.clear()
    for index, member in enumerate(members):
        chat.say(member, str(index), client_id=f"c{index}")
    chat.flush()
    for index in (0, 1, 500, 999):
        got = summary(members[index].messages())
        expected = [f"u{i}:{i}" if i != index else f"ack:c{i}" for i in range(1000)]
        assert got == expected
