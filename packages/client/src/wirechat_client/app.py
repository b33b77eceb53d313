"""The Textual App: owns the connection and its worker, and moves between the two screens.

The App is given a connection factory, so tests can point it at a real in-process server or a
scripted peer. The network runs in a worker on the App's own asyncio loop: it turns each batch
from :meth:`~wirechat_client.net.Connection.updates` into a :class:`NetworkUpdate` message, so
the UI never waits on a socket.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import tzinfo
from typing import ClassVar

from textual.app import App
from textual.binding import Binding, BindingType
from textual.events import DeliveryFailed
from textual.theme import Theme
from textual.worker import Worker, WorkerState

from .address import DEFAULT_HOST, DEFAULT_PORT, Address
from .config import ClientConfig
from .events import Connection, ConnectionFactory, Disconnected, Registered
from .lines import LineKind
from .messages import (
    ActivityChanged,
    Alerted,
    ConnectRequested,
    NetworkUpdate,
    PaneToggled,
    QuitRequested,
    SendRequested,
    ServerRequested,
)
from .net import ChatConnection
from .prefs import Prefs
from .screens.chat import ChatScreen
from .screens.connect import ConnectScreen
from .screenshots import screenshot_failure
from .terminal_out import TerminalOut


class WirechatApp(App[None]):
    """The wirechat terminal client."""

    CSS_PATH = "app.tcss"
    TITLE = "wirechat"
    # Ctrl+P is the previous conversation, as in irssi; F4 follows F1 help, F2 and F3 panes.
    COMMAND_PALETTE_BINDING = "f4"
    COMMAND_PALETTE_DISPLAY = "F4"
    BINDINGS: ClassVar[list[BindingType]] = [
        # Textual's own ctrl+q, shown in the footer: a new user looks there for the way out.
        Binding("ctrl+q", "quit", "Quit", priority=True, id="quit"),
        # Textual's own palette binding has no id: this one can be rebound in [keys].
        Binding(
            COMMAND_PALETTE_BINDING,
            "command_palette",
            "palette",
            show=False,
            key_display=COMMAND_PALETTE_DISPLAY,
            priority=True,
            tooltip="Open the command palette",
            id="command-palette",
        ),
    ]

    def __init__(
        self,
        *,
        address: Address | None = None,
        name: str = "",
        connect_now: bool = False,
        connect: ConnectionFactory = ChatConnection,
        prefs: Prefs | None = None,
        message: str = "",
        theme: str = "",
        clock: Callable[[], float] = time.time,
        tz: tzinfo | None = None,
        config: ClientConfig | None = None,
    ) -> None:
        """``connect_now`` skips the form and connects to ``address`` as ``name`` at once;
        ``message`` is shown on the form (a bad name given on the command line, say);
        ``theme`` names a Textual theme (else the last one used).
        ``clock`` and ``tz`` set the time of local lines and the zone of all of them;
        ``config`` holds the settings file's values."""
        super().__init__()
        self._prefs = prefs or Prefs(None)
        remembered = self._prefs.load()
        server = str(address) if address else remembered.server or f"{DEFAULT_HOST}:{DEFAULT_PORT}"
        self.connect_screen = ConnectScreen(server, name or remembered.name or "", message)
        self._start = (address, name) if connect_now and address and name else None
        self._theme = theme or remembered.theme or ""
        self._panes = {
            pane: choice == "shown"
            for pane, choice in (("users", remembered.users), ("rooms", remembered.rooms))
            if choice in ("shown", "hidden")
        }
        self._factory = connect
        self._clock = clock
        self._tz = tz
        self.config = config or ClientConfig()
        self.set_keymap(self.config.keymap)  # the settings file's [keys]
        self._terminal = TerminalOut(
            self._write_terminal, desktop_notify=self.config.desktop_notify
        )
        self.connection: Connection | None = None
        self.chat: ChatScreen | None = None

    async def on_mount(self) -> None:
        if self._theme in self.available_themes:
            self.theme = self._theme
        self.theme_changed_signal.subscribe(self, self._remember_theme)
        await self.push_screen(self.connect_screen)
        if self._start is not None:
            address, name = self._start
            self.connect_screen.busy(f"Connecting to {address} as {name}…")
            self._connect(address, name)

    def _connect(self, address: Address, name: str) -> None:
        self.connection = connection = self._factory(address, name)
        # exit_on_error=False: a failure is reported in on_worker_state_changed instead.
        self.run_worker(
            self._pump(connection),
            name="network",
            group="network",
            exclusive=True,
            exit_on_error=False,
        )

    async def _pump(self, connection: Connection) -> None:
        async for events in connection.updates():
            self.post_message(NetworkUpdate(connection, events))

    # -- messages from the network and the screens ------------------------------------------

    async def on_network_update(self, update: NetworkUpdate) -> None:
        connection = update.connection
        if connection is not self.connection:
            return  # a late batch from a connection we gave up on
        events = update.events
        if self.chat is None:
            for index, event in enumerate(events):
                if isinstance(event, Registered):
                    await self._enter_chat(connection, event)
                    events = events[index:]
                    break
                if isinstance(event, Disconnected) and event.retry_in is None:
                    self.connection = None
                    self.connect_screen.fail_with(event, connection.name)
                    return
            else:
                return
        assert self.chat is not None
        self.chat.show(events)

    async def _enter_chat(self, connection: Connection, event: Registered) -> None:
        self._prefs.save(server=str(connection.address), name=event.welcome.name)
        self.chat = ChatScreen(
            connection.address,
            event.welcome.name,
            clock=self._clock,
            tz=self._tz,
            config=self.config,
            panes=self._panes,
        )
        await self.push_screen(self.chat)

    def on_connect_requested(self, request: ConnectRequested) -> None:
        self._connect(request.address, request.name)

    def on_send_requested(self, request: SendRequested) -> None:
        if self.chat is None or self.connection is None:
            return
        client_id = self.connection.say(
            request.text, action=request.action, room=request.room, to=request.to
        )
        if client_id is None:
            reason = "still offline, and the outbox is full"
            self.chat.add_refused(request.conversation, request.text, request.action, reason)
        else:
            self.chat.add_own(request.conversation, request.text, request.action, client_id)

    def on_server_requested(self, message: ServerRequested) -> None:
        if self.chat is None:
            return
        if self.connection is None or not self.connection.request(message.request):
            self.chat.request_failed(message.request)

    def on_pane_toggled(self, toggled: PaneToggled) -> None:
        self._panes[toggled.pane] = toggled.shown
        self._prefs.save(**{toggled.pane: "shown" if toggled.shown else "hidden"})

    def on_activity_changed(self, changed: ActivityChanged) -> None:
        if self.chat is not None and self.connection is not None:
            self._terminal.title(changed.activity.title(self.chat.me, str(self.connection.address)))

    def on_alerted(self, alerted: Alerted) -> None:
        self.bell()
        self._terminal.notify(alerted.alerts)

    async def on_quit_requested(self, _: QuitRequested) -> None:
        await self.action_quit()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        # A bug in the network code must not kill the UI: report it where the user looks.
        if event.worker.name != "network" or event.state is not WorkerState.ERROR:
            return
        text = f"The network task failed: {event.worker.error!r}"
        if self.chat is not None:
            self.chat.note(text, LineKind.ERROR)
        else:
            self.connect_screen.fail(text)

    def on_delivery_failed(self, event: DeliveryFailed) -> None:
        if event.name != "screenshot":
            return
        event.prevent_default()  # instead of Textual's "Failed to save screenshot"
        text = screenshot_failure(event.exception)
        if self.chat is not None:
            self.chat.note(text, LineKind.ERROR)  # stays, so the path can be read and copied
        else:
            self.notify(text, title="Screenshot", severity="error", timeout=10)

    async def action_quit(self) -> None:
        """Say goodbye to the server (briefly), then exit."""
        if self.connection is not None:
            await self.connection.close()
        self._terminal.restore_title()
        self.exit()

    def bell(self) -> None:
        if self.config.bell:  # the settings file's "bell = false" silences every bell
            super().bell()

    def _write_terminal(self, data: str) -> None:
        # The driver, as App.bell and copy_to_clipboard use it: Textual has no public way.
        if self._driver is not None and not self.is_headless:
            self._driver.write(data)

    def _remember_theme(self, theme: Theme) -> None:
        self._prefs.save(theme=theme.name)
