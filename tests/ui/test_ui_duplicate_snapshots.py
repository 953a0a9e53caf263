"""Snapshots of the duplicate form and its review step at 120x36 and 80x24.

Refresh after a deliberate change with
`pytest tests/ui/test_ui_duplicate_snapshots.py --snapshot-update` and look at the SVGs in
tests/ui/__snapshots__/ before committing them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from textual.app import App
from textual.pilot import Pilot
from textual.widgets import Input

from kondado_tui.core.config import PipelineEntry
from kondado_tui.core.duplicate import DuplicateDraft, ParamRow, TableRow
from kondado_tui.ui.screens.duplicate import DuplicateScreen

SIZES = [pytest.param((120, 36), id="120x36"), pytest.param((80, 24), id="80x24")]
Compare = Callable[..., bool]


class Host(App[None]):
    TITLE = "duplicate"

    def __init__(self, draft: DuplicateDraft) -> None:
        super().__init__()
        self._draft = draft

    async def submit(self, body: dict[str, Any]) -> int:
        return 123456

    def on_mount(self) -> None:
        base = PipelineEntry(2040, "Shopify orders → BigQuery", "shop")
        self.push_screen(DuplicateScreen(base, self._draft, self.submit))


def draft(*, valid: bool) -> DuplicateDraft:
    return DuplicateDraft(
        base_id="2040",
        src="5052",
        dest="7002" if valid else "",
        client="31552",
        name="Outlet orders",
        full_tables=[
            TableRow("", "outlet_orders" if valid else "outlet orders"),
            TableRow("line_items", "outlet_line_items"),
            TableRow("customers", "outlet_customers"),
            TableRow("fulfillments", "outlet_fulfillments"),
        ],
        delta_tables=[TableRow("", "outlet_orders_delta" if valid else "outlet_line_items")],
        parameters=[ParamRow("start_date", "2024-01-01"), ParamRow("shop", "loja-outlet")],
    )


async def still(pilot: Pilot[Any]) -> None:
    """No blinking cursor: the picture must not depend on when it is taken."""
    for _ in range(3):
        await pilot.pause()
    for widget in pilot.app.query(Input):
        widget.cursor_blink = False
    for screen in pilot.app.screen_stack:
        for widget in screen.query(Input):
            widget.cursor_blink = False
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES)
def test_form_with_problems(snap_compare: Compare, size: tuple[int, int]) -> None:
    assert snap_compare(Host(draft(valid=False)), terminal_size=size, run_before=still)


@pytest.mark.parametrize("size", SIZES)
def test_review_step(snap_compare: Compare, size: tuple[int, int]) -> None:
    async def review(pilot: Pilot[Any]) -> None:
        await still(pilot)
        await pilot.press("ctrl+s")
        await still(pilot)

    assert snap_compare(Host(draft(valid=True)), terminal_size=size, run_before=review)
