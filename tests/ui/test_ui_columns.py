"""Column layout: full status words when they fit, short forms when narrow, all in width."""

from __future__ import annotations

import pytest
from rich.cells import cell_len

from kondado_tui.core.config import PipelineEntry
from kondado_tui.core.models import Observation, PipelineStatus
from kondado_tui.ui.view.board import Row
from kondado_tui.ui.view.columns import GAP, NAME, SCROLLBAR, STATUS, compute_layout, render_cells
from kondado_tui.ui.view.palette import PLAIN

T0 = 1_790_000_000.0
BLOCKED = "too_many_consecutive_failed_builds__blocked"


def row(
    pid: int,
    status: str,
    name: str = "a pipeline with a rather long name → BigQuery",
    raw_msg: str | None = None,
) -> Row:
    obs = Observation(PipelineStatus(pid, status, raw_msg=raw_msg), T0)
    return Row(PipelineEntry(pid, name, "Finance"), obs, T0)


ROWS = [
    row(1, BLOCKED),
    row(2, "error_building_tables", raw_msg="x" * 500),
    row(3, "active"),
    Row(PipelineEntry(4)),
]


@pytest.mark.parametrize("width", [60, 80, 100, 120, 160, 200, 300])
def test_columns_fit_the_terminal(width: int) -> None:
    layout = compute_layout(width, ROWS, with_last_run=True)
    used = sum(w + GAP for _, w in layout.widths) + SCROLLBAR
    assert used <= width or width < 80
    for r in ROWS:
        cells = render_cells(r, layout, PLAIN, T0 + 5, stale=False)
        for key, text in cells.items():
            assert cell_len(text.plain) <= layout.width(key), (key, text.plain)


def test_status_words_are_whole_when_wide_and_short_when_narrow() -> None:
    wide = compute_layout(200, ROWS, with_last_run=True)
    cells = render_cells(ROWS[0], wide, PLAIN, T0, stale=False)
    assert cells[STATUS].plain == "⛔ too many consecutive failed builds blocked"
    assert cells[NAME].plain == ROWS[0].entry.name
    narrow = compute_layout(80, ROWS, with_last_run=True)
    assert render_cells(ROWS[0], narrow, PLAIN, T0, stale=False)[STATUS].plain == "⛔ blocked"
