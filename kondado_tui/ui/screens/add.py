"""The `a` form: a pipeline id or a pasted app URL, and an optional name and group."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from kondado_tui.core.config import PipelineEntry, parse_pipeline_ref
from kondado_tui.core.errors import ConfigError
from kondado_tui.core.guards.sanitize import clean


@dataclass(frozen=True)
class AddResult:
    entry: PipelineEntry
    message: str


# Checks the pipeline (one status call) and saves it; returns what to tell the user or
# raises KondadoError with a message that says what is wrong.
AddPipeline = Callable[[PipelineEntry], Awaitable[str]]


class AddScreen(ModalScreen[AddResult | None]):
    CSS_PATH = "add.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "cancel")]

    def __init__(self, add: AddPipeline, known: set[int]) -> None:
        super().__init__()
        self._add = add
        self._known = known

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text("Add a pipeline to monitor"), classes="title")
            yield Input(placeholder="id or app URL, e.g. 2040", id="ref")
            yield Input(placeholder="name (optional)", id="name")
            yield Input(placeholder="group (optional)", id="group")
            yield Static("", id="problem", classes="error", markup=False)
            yield Static(
                Text("enter: check with one status call and save to the config   esc: cancel"),
                classes="hint",
            )

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "ref" and not event.value.strip():
            return
        self.submit()

    def submit(self) -> None:
        problem = self.query_one("#problem", Static)
        try:
            pid = parse_pipeline_ref(self.query_one("#ref", Input).value)
        except ConfigError as exc:
            problem.update(Text(clean(str(exc))))
            self.query_one("#ref", Input).focus()
            return
        if pid in self._known:
            problem.update(Text(f"pipeline {pid} is already monitored"))
            return
        name = self.query_one("#name", Input).value.strip() or None
        group = self.query_one("#group", Input).value.strip() or None
        problem.update(Text(f"asking Kondado about pipeline {pid}…"))
        self._check(PipelineEntry(pid, name, group))

    @work(exclusive=True, group="add-pipeline", exit_on_error=False)
    async def _check(self, entry: PipelineEntry) -> None:
        try:
            message = await self._add(entry)
        except Exception as exc:  # the message names what is wrong; the form stays open
            self.query_one("#problem", Static).update(Text(clean(str(exc))))
            return
        self.dismiss(AddResult(entry, message))

    def action_cancel(self) -> None:
        self.dismiss(None)
