"""Relay: a message said is stored, then relayed to its room or recipient and acknowledged.

Durability rule: a message is relayed and acknowledged only once it is stored. ``say`` hands the
message to the message log (:mod:`..storage.log`); the relay and the ack happen when its result
arrives, which is in id order. With storage off, ids come from a counter and the relay happens at
once.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from wirechat_common import Ack, Error, ErrorCode, ProtocolError, name_key

from ..bus import Bus
from ..fanout import Group
from ..identity import User
from ..presence import Presence
from ..storage.log import MessageLog
from ..storage.model import (
    AppendResult,
    StoreBusy,
    StoredMessage,
    StoreFull,
    StoreUnavailable,
    dm_room,
)
from .client import Client
from .messages import shown
from .rooms import ChatRoom, Rooms


class Relay:
    """Stores what is said and, once stored, relays and acknowledges it."""

    def __init__(
        self,
        *,
        bus: Bus[Group, Client],
        log: MessageLog | None,
        presence: Presence[Client],
        rooms: Rooms,
        clock: Callable[[], int],
        warn: Callable[[str], None],
    ) -> None:
        self._bus = bus
        self._log = log
        self._presence = presence
        self._rooms = rooms
        self._clock = clock
        self._warn = warn
        #: The highest message id handed to the bus: history pages stop there, so that nothing
        #: reaches a client both live and in a page (see :mod:`.history`).
        self.delivered_id = 0
        # Clients with messages submitted but not yet relayed, and how many; and what waits for
        # each of them to have none (see when_settled).
        self._unsettled: dict[Client, int] = {}
        self._when_settled: dict[Client, list[Callable[[], None]]] = {}

    def settled(self, client: Client) -> bool:
        """Whether every message ``client`` has said so far is relayed (or refused)."""
        return client not in self._unsettled

    def when_settled(self, client: Client, callback: Callable[[], None]) -> None:
        """Call ``callback`` once every message ``client`` has said so far is relayed (or
        refused): at once if none waits. A leave waits so, so that the others hear a user's
        last lines before they hear it leave."""
        if client in self._unsettled:
            self._when_settled.setdefault(client, []).append(callback)
        else:
            callback()

    def _settle(self, client: Client) -> None:
        left = self._unsettled[client] - 1
        if left:
            self._unsettled[client] = left
            return
        del self._unsettled[client]
        for callback in self._when_settled.pop(client, ()):
            callback()

    def next_possible_id(self) -> int:
        """An upper bound on the ids of messages already submitted: a session that starts now
        may read direct messages above it, none of which was sent before it began."""
        log = self._log
        if log is None:
            return self.delivered_id
        return max(self.delivered_id, log.last_id) + log.pending

    def say(
        self,
        client: Client,
        text: str,
        *,
        action: bool = False,
        client_id: str | None = None,
        room: str | None = None,
    ) -> None:
        """Store ``text`` for ``room`` (default: the lobby); once stored, relay and ack it."""
        target = self._rooms.member_room(client, room, client_id)
        self._submit(client, target.key, target, text, action, client_id)

    def direct(
        self,
        client: Client,
        to: str,
        text: str,
        *,
        action: bool = False,
        client_id: str | None = None,
    ) -> None:
        """Store a direct message to ``to``; once stored, deliver it to every connection of
        the recipient and the sender's other ones, and ack it."""
        recipient = self._presence.user(name_key(to))
        if recipient is None:
            raise ProtocolError(
                ErrorCode.NO_SUCH_USER, f"nobody called {to!r} is connected", client_id=client_id
            )
        assert client.user is not None
        self._submit(
            client, dm_room(client.user.key, recipient.key), recipient, text, action, client_id
        )

    def _submit(
        self,
        client: Client,
        conversation: str,
        target: ChatRoom | User,
        text: str,
        action: bool,
        client_id: str | None,
    ) -> None:
        user = client.user
        assert user is not None
        log = self._log
        if log is None:
            self.delivered_id += 1
            stored = StoredMessage(
                self.delivered_id,
                self._clock(),
                conversation,
                user.name,
                user.key,
                text,
                action,
                client_id,
            )
            self._relay(client, user, target, AppendResult(stored, duplicate=False))
            return
        try:
            outcome = log.submit(
                conversation,
                user.name,
                user.key,
                text,
                action=action,
                client_id=client_id,
                fresh_after=user.dm_floor,
            )
        except StoreBusy as exc:
            raise ProtocolError(
                ErrorCode.BUSY,
                f"too many messages wait for the disk ({exc})",
                client_id=client_id,
            ) from None
        except StoreFull as exc:
            raise ProtocolError(
                ErrorCode.STORAGE_FULL,
                f"the server takes no new messages now: {exc}; history can still be read",
                client_id=client_id,
            ) from None
        except StoreUnavailable:
            raise ProtocolError(
                ErrorCode.STORAGE_UNAVAILABLE,
                "the message could not be stored",
                client_id=client_id,
            ) from None
        self._unsettled[client] = self._unsettled.get(client, 0) + 1
        outcome.add_done_callback(functools.partial(self._stored, client, user, target, client_id))

    def _stored(
        self,
        client: Client,
        sender: User,
        target: ChatRoom | User,
        client_id: str | None,
        outcome: Any,
    ) -> None:
        # The log's result: arrives in id order, on the loop. The batch already waited for the
        # disk, so its relays and acks go out at the end of this turn.
        self._bus.expedite()
        try:
            result: AppendResult = outcome.result()
        except StoreUnavailable as exc:
            self._warn(f"storage failed name={client.name}: {exc}")
            if client.user is not None:
                self._bus.to_member(
                    client,
                    Error(
                        code=ErrorCode.STORAGE_UNAVAILABLE,
                        detail="the message could not be stored; it was not sent",
                        client_id=client_id,
                    ),
                )
        else:
            self._relay(client, sender, target, result)
        finally:
            self._settle(client)

    def _relay(
        self, client: Client, sender: User, target: ChatRoom | User, result: AppendResult
    ) -> None:
        # ``sender`` and ``target`` are the users as they were when the message was said: if a
        # name changed hands meanwhile, its new holder is someone else and gets nothing.
        stored = result.message
        if not result.duplicate:
            self.delivered_id = max(self.delivered_id, stored.id)
            if isinstance(target, ChatRoom):
                # The room as it is now: if it emptied and was made again meanwhile, its new
                # members are owed the message (their join page stopped below it).
                room = self._rooms.get(target.key)
                if room is not None:
                    self._bus.to_room(room.group, shown(stored, room=target.name), exclude=client)
            else:
                message = shown(stored, to=target.name)
                presence = self._presence
                recipients = {*presence.connections(target), *presence.connections(sender)}
                recipients.discard(client)
                for recipient in recipients:
                    self._bus.to_member(recipient, message)
        if client.user is not None:
            ack = Ack(
                id=stored.id, ts=stored.ts, client_id=stored.client_id, duplicate=result.duplicate
            )
            self._bus.to_member(client, ack)
