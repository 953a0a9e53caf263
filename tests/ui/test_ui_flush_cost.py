"""An answer that moves no row costs O(1): no sort and no re-measure of every row
(benchmarks/results/ui_cost_findings.md); one that moves a row still re-sorts."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_ui_app import SIZE, build, plain
from ui_fakes import ENTRIES

from kondado_tui.core.history.timeline import HistorySummary, RunOutcome, RunSummary, Transition
from kondado_tui.core.models import Observation
from kondado_tui.ui.view import table_sync
from kondado_tui.ui.view.board import Board
from kondado_tui.ui.view.columns import LAST_RUN, MESSAGE, STATUS


class Counter:
    def __init__(self) -> None:
        self.layouts = 0
        self.sorts = 0


@pytest.fixture
def counter(monkeypatch: pytest.MonkeyPatch) -> Counter:
    counts = Counter()
    real_layout, real_ordered = table_sync.compute_layout, Board.ordered

    def counting_layout(*args: object, **kwargs: object) -> object:
        counts.layouts += 1
        return real_layout(*args, **kwargs)  # type: ignore[arg-type]

    def counting_ordered(self: Board, *args: object) -> object:
        counts.sorts += 1
        return real_ordered(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(table_sync, "compute_layout", counting_layout)
    monkeypatch.setattr(Board, "ordered", counting_ordered)
    return counts


async def test_an_answer_that_moves_nothing_patches_its_row_without_sorting(
    tmp_path: Path,
    counter: Counter,
) -> None:
    app, poller = build(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        for entry in ENTRIES:
            poller.observe(entry.id, "running")
        await pilot.pause()
        order = app.main.table.shown_keys
        sorts, layouts = counter.sorts, counter.layouts
        poller.observe(2040, "running")  # the same answer again
        poller.observe(3100, "scheduled")  # busy as running: the same place
        await pilot.pause()
        assert (counter.sorts, counter.layouts) == (sorts, layouts)
        assert "scheduled" in plain(app, 3100, STATUS)
        assert app.main.table.shown_keys == order
        poller.observe(3101, "running", raw_msg="slow source")  # a warning: it moves up
        await pilot.pause()
        assert (counter.sorts, counter.layouts) == (sorts + 1, layouts + 1)
        assert "slow source" in plain(app, 3101, MESSAGE)
        assert app.main.table.shown_keys[0] == "3101"


async def test_an_answer_that_moves_a_row_re_sorts_and_the_cursor_follows(
    tmp_path: Path,
    counter: Counter,
) -> None:
    app, poller = build(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        for entry in ENTRIES:
            poller.observe(entry.id, "active")
        await pilot.pause()
        table = app.main.table
        await pilot.press("j")
        selected = table.selected_key
        last = table.shown_keys[-1]
        assert last != selected
        sorts = counter.sorts
        poller.observe(int(last), "error_building_tables")  # trouble goes on top
        await pilot.pause()
        assert counter.sorts == sorts + 1
        assert table.shown_keys[0] == last
        assert table.selected_key == selected


async def test_a_filtered_table_shows_a_row_that_starts_matching_and_hides_one_that_stops(
    tmp_path: Path,
) -> None:
    app, poller = build(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        for entry in ENTRIES:
            poller.observe(entry.id, "active")
        await pilot.pause()
        await pilot.press("slash", *"error", "enter")
        await pilot.pause()
        table = app.main.table
        assert table.shown_keys == []
        poller.observe(2041, "active")  # still no match: still hidden
        await pilot.pause()
        assert table.shown_keys == []
        poller.observe(2041, "error_building_tables")
        await pilot.pause()
        assert table.shown_keys == ["2041"]
        poller.observe(2041, "active")
        await pilot.pause()
        assert table.shown_keys == []


class SummaryStore:
    """History that only knows the summaries a test gives it."""

    def __init__(self) -> None:
        self.summaries: dict[int, HistorySummary] = {}
        self.asked: list[int] = []

    def last_observations(self, ids: object = None) -> dict[int, tuple[Observation, float]]:
        return {}

    def transitions(self, *args: object, **kwargs: object) -> list[Transition]:
        return []

    def runs(self, pipeline_id: int, limit: int = 50) -> list[RunSummary]:
        return []

    def summary(self, pipeline_id: int, durations: int = 20) -> HistorySummary:
        self.asked.append(pipeline_id)
        return self.summaries.get(pipeline_id, HistorySummary())


async def test_a_new_history_summary_redraws_its_row_without_sorting(
    tmp_path: Path,
    counter: Counter,
) -> None:
    """A status change reloads that pipeline's summary (the last-run column); that used
    to redraw every row (sort, measure, render all 1000 at 1000 pipelines)."""
    store = SummaryStore()
    app, poller = build(tmp_path, store=store)
    async with app.run_test(size=SIZE) as pilot:
        for entry in ENTRIES:
            poller.observe(entry.id, "active")
        await pilot.pause()
        sorts, layouts = counter.sorts, counter.layouts
        now = app.clock.now()
        store.summaries[2040] = HistorySummary(
            last_run=RunSummary(2040, now - 65, now, RunOutcome.OK, "active")
        )
        store.asked.clear()
        poller.observe(2040, "running")  # a change: its summary is read again
        for _ in range(100):
            await pilot.pause(0.01)
            if plain(app, 2040, LAST_RUN):
                break
        assert store.asked == [2040]
        assert plain(app, 2040, LAST_RUN).startswith("✓ 1m")
        assert (counter.sorts, counter.layouts) == (sorts, layouts)
