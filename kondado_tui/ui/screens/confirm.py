"""A yes/no question in a modal: y or enter says yes, n or esc says no (for a second
question about a risk, only y says yes)."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import events
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
    KEYS = ("y / enter", "n / esc")  # as the line under the question says them

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
            yes_keys, no_keys = self.KEYS
            yield Static(Text(f"{yes_keys}: {self._yes}    {no_keys}: cancel"), classes="keys")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class SecondConfirmScreen(ConfirmScreen):
    """A second question, about a risk the first did not know of (a send whose outcome
    is unknown): only `y` says yes; enter, pressed out of habit, cancels."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "yes"),
        Binding("n,escape,enter", "answer(False)", "no"),
    ]
    KEYS = ("y", "n / esc / enter")


class ChoiceScreen(ModalScreen[str | None]):
    """A question with a few answers, each on its own key; esc answers None (stay).

    `choices`: (key, answer, words), e.g. ("k", "keep", "keep it for the next d")."""

    CSS_PATH = "confirm.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "choose('')", "stay")]

    def __init__(self, title: str, body: Text, choices: list[tuple[str, str, str]]) -> None:
        super().__init__()
        self._title = title
        self._body = body
        self._choices = {key: answer for key, answer, _words in choices}
        self._keys = "    ".join(f"{key}: {words}" for key, _answer, words in choices)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(self._title), classes="title", markup=False)
            yield Static(self._body, markup=False)
            yield Static(Text(f"{self._keys}    esc: stay"), classes="keys")

    def on_key(self, event: events.Key) -> None:
        answer = self._choices.get(event.key)
        if answer is not None:
            event.stop()
            self.dismiss(answer)

    def action_choose(self, answer: str) -> None:
        self.dismiss(answer or None)
