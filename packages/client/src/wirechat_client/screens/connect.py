"""The connect screen: asks for the server and the name, and says plainly what went wrong."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Center, Vertical
from textual.screen import Screen
from textual.widgets import Button, Footer, Input, Label, Static

from wirechat_common import MAX_NAME_LENGTH, ErrorCode, is_valid_name, sanitize_text
from wirechat_common.names import NAME_CHARACTERS

from ..address import parse_address
from ..events import Disconnected
from ..messages import ConnectRequested


class ConnectScreen(Screen[None]):
    """The form. The App calls :meth:`busy` while connecting and :meth:`fail` after a refusal."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.quit", "Quit", show=False),
    ]
    # Under 30 rows (80x24) the form drops its blank rows: a long error still fits.
    VERTICAL_BREAKPOINTS = [(0, "-short"), (30, "-tall")]

    def __init__(self, server: str, name: str, message: str = "") -> None:
        super().__init__()
        self._given_server = server
        self._given_name = name
        self._given_message = message

    def compose(self) -> ComposeResult:
        with Center(), Vertical(id="connect-box"):
            yield Static("wirechat", id="connect-title")
            yield Static("Chat with everyone on a wirechat server.", id="connect-hint")
            yield Label("Server", classes="field-label")
            yield Input(self._given_server, placeholder="HOST[:PORT]", id="server")
            yield Label("Name", classes="field-label")
            yield Input(
                self._given_name, placeholder="your nick", id="name", max_length=MAX_NAME_LENGTH
            )
            yield Button("Connect", variant="primary", id="connect")
            yield Static(
                Text(self._given_message),
                id="connect-message",
                classes="-error" if self._given_message else "-empty",
            )
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#name" if self._given_server else "#server", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id == "server" and not self.query_one("#name", Input).value:
            self.query_one("#name", Input).focus()
        else:
            self.submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.submit()

    def submit(self) -> None:
        """Check the form and ask the App to connect."""
        try:
            address = parse_address(self.query_one("#server", Input).value)
        except ValueError as error:
            self.fail(f"Server: {error}.", field="server")
            return
        name = self.query_one("#name", Input).value.strip()
        if not is_valid_name(name):
            self.fail(
                f"Name: 1 to {MAX_NAME_LENGTH} characters, only {NAME_CHARACTERS}.", field="name"
            )
            return
        self.busy(f"Connecting to {address} as {name}…")
        self.post_message(ConnectRequested(address, name))

    def busy(self, text: str) -> None:
        self._say(text, error=False)
        self.query_one("#connect", Button).disabled = True

    def fail(self, text: str, *, field: str = "server") -> None:
        self._say(text, error=True)
        self.query_one("#connect", Button).disabled = False
        box = self.query_one(f"#{field}", Input)
        box.focus()
        box.select_all()  # the wrong value is replaced by whatever is typed next

    def fail_with(self, event: Disconnected, name: str) -> None:
        """Explain why the first attempt to connect ended."""
        if event.code == ErrorCode.NAME_TAKEN:
            self.fail(f"The name {name} is taken: choose another.", field="name")
        elif event.code == ErrorCode.INVALID_NAME:
            self.fail(f"The server refused the name: {event.reason}.", field="name")
        else:
            self.fail(f"Could not connect: {event.reason}.")

    def _say(self, text: str, *, error: bool) -> None:
        message = self.query_one("#connect-message", Static)
        # Text, not a string: a server's words are never parsed as markup.
        message.update(Text(sanitize_text(text)))
        message.set_class(error, "-error")
        message.set_class(not text, "-empty")
