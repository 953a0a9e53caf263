"""What keeps the duplicate form's keystrokes cheap at any size, and its limit, and the
detail screen's long messages: held by structure (what is laid out, what is redrawn),
never by timings (benchmarks/form_cost.py measures those)."""

from __future__ import annotations

import io
from typing import Any

import pytest
from rich.console import Console
from test_ui_duplicate import BASE, SIZE, Host, settle
from textual.screen import Screen
from textual.widgets import Input, Static

from kondado_tui.core.clock import ManualClock
from kondado_tui.core.config import PipelineEntry
from kondado_tui.core.duplicate import DuplicateDraft, MappingMemory, ParamRow, TableRow
from kondado_tui.core.events import Connection, Health
from kondado_tui.core.guards.limits import MAX_MESSAGE, cut
from kondado_tui.core.models import Observation, PipelineStatus
from kondado_tui.ui.screens import duplicate as duplicate_screen
from kondado_tui.ui.screens.detail import DetailScreen
from kondado_tui.ui.screens.duplicate import DuplicateScreen, FormInput, ParamRowEditor
from kondado_tui.ui.view.board import Row
from kondado_tui.ui.view.palette import Palette


def with_params(count: int) -> DuplicateDraft:
    return DuplicateDraft(
        base_id="2040",
        src="5052",
        dest="7002",
        full_tables=[TableRow("", "orders")],
        parameters=[ParamRow(f"p{i}", f"value {i}") for i in range(count)],
    )


async def test_typing_lays_nothing_out_and_redraws_no_message(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = Host(draft=with_params(30))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        form = app.form
        value = list(form.query(ParamRowEditor))[-1].value_input
        assert isinstance(value, FormInput)  # on the Textual it was tested on
        value.focus()
        await settle(pilot)
        layouts: list[int] = []
        updates: list[int] = []
        real_layout = Screen._refresh_layout
        real_update = Static.update

        def refresh_layout(self: Screen[Any], *args: Any, **kwargs: Any) -> None:
            layouts.append(1)
            real_layout(self, *args, **kwargs)

        def update(self: Static, *args: Any, **kwargs: Any) -> None:
            if self.has_class("message"):
                updates.append(1)
            real_update(self, *args, **kwargs)

        monkeypatch.setattr(Screen, "_refresh_layout", refresh_layout)
        monkeypatch.setattr(Static, "update", update)
        await pilot.press(*"abcdefgh")
        await settle(pilot)
        assert value.value.endswith("abcdefgh")
        assert layouts == [], "a keystroke laid the form out again"
        assert updates == [], "a keystroke redrew message lines that did not change"
        # a long value still scrolls within its input (FormInput's virtual size)
        await pilot.press(*("x" * 150))
        await settle(pilot)
        assert value.scroll_x > 0 and value.cursor_position == len(value.value)


async def test_a_burst_of_changes_is_checked_once(monkeypatch: pytest.MonkeyPatch) -> None:
    checks: list[int] = []
    real = DuplicateScreen._revalidate

    def revalidate(self: DuplicateScreen) -> None:
        checks.append(1)
        real(self)

    monkeypatch.setattr(DuplicateScreen, "_revalidate", revalidate)
    app = Host(draft=with_params(20))  # 40 inputs post Input.Changed as they mount
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert len(checks) <= 3, len(checks)


async def test_rows_are_limited_with_a_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(duplicate_screen, "MAX_FORM_ROWS", 3)
    app = Host(draft=with_params(3))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        form = app.form
        form.query_one("#src", Input).focus()
        await pilot.press("ctrl+o")
        await settle(pilot)
        assert len(form.query(ParamRowEditor)) == 3
        assert any("at most 3 rows" in note for note in app.notes)
        assert any("--body FILE" in note for note in app.notes)


async def test_remembered_mappings_past_the_limit_open_an_empty_form(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.setattr(duplicate_screen, "MAX_FORM_ROWS", 3)
    memory = MappingMemory(tmp_path / "duplicates.json")
    memory.remember(
        {
            "pipeline_id": BASE.id,
            "full_tables": {"": "orders"},
            "overwrite_parameters": {f"p{i}": i for i in range(5)},
        }
    )
    app = Host(memory=memory)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        form = app.form
        assert len(form.query(ParamRowEditor)) == 0
        failure = str(form.query_one("#failure", Static).render())
        assert "more rows than the form holds" in failure and "--body FILE" in failure


class DetailHost(Host):
    def __init__(self, row: Row) -> None:
        super().__init__()
        self.row = row
        self.read_only = False

    def on_mount(self) -> None:
        palette = Palette.from_variables(self.get_css_variables())
        self.detail = DetailScreen(
            self.row, clock=ManualClock(1e9), store=None, palette=palette, commands=self
        )
        self.push_screen(self.detail)

    @property
    def health(self) -> Health:
        return Health(Connection.OK, budget_per_minute=18)

    def run_one(self, pipeline_id: int) -> None: ...
    def ask_now(self, pipeline_id: int) -> None: ...
    def copy_url(self, pipeline_id: int) -> None: ...


def _row(raw_msg: str, at: float = 1e9) -> Row:
    status = PipelineStatus(7, "error_building_tables", is_blocked=True, raw_msg=raw_msg)
    return Row(PipelineEntry(7, "Orders"), Observation(status, at), since=at)


async def test_details_show_a_cut_message_and_redraw_it_only_when_it_changes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    text = cut("line\n" * 10_000, MAX_MESSAGE)
    app = DetailHost(_row(text))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        message = app.detail.query_one("#message", Static)
        console = Console(width=200, record=True, file=io.StringIO())
        console.print(message.content)
        shown = console.export_text()
        assert shown.rstrip().endswith("… (cut: 34000 more characters)")
        updates: list[int] = []
        real = Static.update

        def update(self: Static, *args: Any, **kwargs: Any) -> None:
            if self is message:
                updates.append(1)
            real(self, *args, **kwargs)

        monkeypatch.setattr(Static, "update", update)
        for i in range(5):  # the same state, answered again
            app.detail.update_row(_row(text, 1e9 + i))
        await settle(pilot)
        assert updates == []
        app.detail.update_row(_row("a new message"))
        assert updates == [1]
