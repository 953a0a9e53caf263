"""A yes/no question in a modal: y or enter says yes, n or esc says no."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static


class ConfirmScreen(ModalScreen[bool]):
    CSS_PATH = "confirm.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y,enter", "answer(True)", "yes"),
        Binding("n,escape", "answer(False)", "no"),
    ]

    def __init__(
        self, title: str, body: Text, *, warning: Text | None = None, yes: str = "yes"
    ) -> None:
        super().__init__()
        self._title = title
        self._body = body
        self._warning = warning
        self._yes = yes

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(self._title), classes="title", markup=False)
            with VerticalScroll(can_focus=False):
                yield Static(self._body, markup=False)
            if self._warning is not None:
                yield Static(self._warning, classes="warning", markup=False)
            yield Static(Text(f"y / enter: {self._yes}    n / esc: cancel"), classes="keys")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
