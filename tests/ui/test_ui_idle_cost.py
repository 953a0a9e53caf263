"""What the idle dashboard repaints: ages change a cell at most every 10 s, and a status
change touches its own row, never the layout (benchmarks/results/ui_cost_findings.md)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from rich.text import Text
from test_lifecycle_repaint import RefreshSpy
from test_ui_app import SIZE, build, plain
from textual.widgets import Static
from ui_fakes import ENTRIES

from kondado_tui.core.clock import ManualClock
from kondado_tui.core.config import PipelineEntry
from kondado_tui.core.events import Connection
from kondado_tui.core.models import KNOWN_STATUSES, Observation, PipelineStatus, status_kind
from kondado_tui.ui.app import TICK_LAG, tick_delay
from kondado_tui.ui.view import table_sync
from kondado_tui.ui.view.board import Row, stale_after
from kondado_tui.ui.view.columns import (
    AGE,
    SINCE,
    STALE_MARKER,
    STATUS,
    compute_layout,
    table_age,
)


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (0, "<10s"),
        (9.99, "<10s"),
        (10, "10s"),
        (19.5, "10s"),
        (59.9, "50s"),
        (60, "1m"),
        (3599, "59m"),
        (7200, "2h"),
        (float("nan"), "<10s"),
        (-5, "<10s"),
    ],
)
def test_table_ages_under_a_minute_go_in_ten_second_steps(seconds: float, shown: str) -> None:
    assert table_age(seconds) == shown


async def test_ages_move_once_per_ten_second_step_and_ticks_between_render_nothing(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app, poller = build(tmp_path)
    clock = app.clock
    assert isinstance(clock, ManualClock)
    assert clock.now() % 10 == 0  # the test starts on a step of the clock
    rendered: list[object] = []
    real_render = table_sync.render_cells

    def counting_render(*args: object, **kwargs: object) -> object:
        rendered.append(args[0])
        return real_render(*args, **kwargs)  # type: ignore[arg-type]

    async with app.run_test(size=SIZE) as pilot:
        poller.observe(2040, "active")
        app.main.tick()
        await pilot.pause()
        assert plain(app, 2040, AGE) == "<10s" and plain(app, 2040, SINCE) == "<10s"
        table = app.main.table
        monkeypatch.setattr(table_sync, "render_cells", counting_render)
        updates, repaints = table.cell_updates, table.lines_refreshed
        # 1 s later the clock is in the next step: ages are shown as of its end (10 s),
        # rounded up so a row never looks fresher than it is
        clock.advance(1)
        app.main.tick()
        assert plain(app, 2040, AGE) == "10s" and plain(app, 2040, SINCE) == "10s"
        assert table.cell_updates == updates + 2
        rendered.clear()
        repaints = table.lines_refreshed
        for _ in range(9):  # 2 s .. 10 s: the same step, nothing to compare or repaint
            clock.advance(1)
            app.main.tick()
        assert table.cell_updates == updates + 2 and table.lines_refreshed == repaints
        assert rendered == []  # not even rendered to be compared
        clock.advance(1)  # 11 s: the next step
        app.main.tick()
        assert plain(app, 2040, AGE) == "20s" and plain(app, 2040, SINCE) == "20s"


async def test_an_answer_that_changes_nothing_waits_for_the_step_and_a_change_does_not(
    tmp_path: Path,
) -> None:
    app, poller = build(tmp_path)
    clock = app.clock
    assert isinstance(clock, ManualClock)
    async with app.run_test(size=SIZE) as pilot:
        for entry in ENTRIES:
            poller.observe(entry.id, "active")
        clock.advance(35)
        app.main.tick()
        await pilot.pause()
        assert plain(app, 2040, AGE) == "40s"
        table = app.main.table
        spy = RefreshSpy(table)
        clock.advance(2)  # 37 s: the same step
        poller.observe(2040, "active")  # asked again, nothing changed
        app.main.tick()
        await pilot.pause()
        assert spy.calls == [], "an answer that changed nothing repainted at once"
        assert plain(app, 2040, AGE) == "40s"  # older than the truth, never younger
        clock.advance(4)  # 41 s: the next step shows the new age with every other one,
        app.main.tick()  # as of the step's end (50 s): asked at 37 s, it is "10s" old
        await pilot.pause()
        assert plain(app, 2040, AGE) == "10s"
        assert plain(app, 2041, AGE) == "50s"
        spy.calls.clear()
        clock.advance(1)  # a real change shows at once, its since and age with it
        poller.observe(2041, "running")
        await pilot.pause()
        assert "running" in plain(app, 2041, STATUS)
        assert plain(app, 2041, SINCE) == "<10s" and plain(app, 2041, AGE) == "<10s"
        assert spy.calls


async def test_the_gauge_waits_for_the_step_and_a_connection_change_does_not(
    tmp_path: Path,
) -> None:
    app, poller = build(tmp_path)
    clock = app.clock
    assert isinstance(clock, ManualClock)
    async with app.run_test(size=SIZE) as pilot:
        poller.observe(2040, "active")
        app.main.tick()
        await pilot.pause()
        status = app.main.query_one("#health", Static)
        clock.advance(2)
        poller.set_health(used_last_minute=7)
        await pilot.pause()
        assert "7/18" not in str(status.render())
        clock.advance(9)
        app.main.tick()
        await pilot.pause()
        assert "7/18 req/min" in str(status.render())
        poller.set_health(connection=Connection.UNREACHABLE, message="connection refused")
        await pilot.pause()
        assert "unreachable" in str(status.render())  # at once, not at the step


@pytest.mark.parametrize("width", [80, 120, 200])  # short status words, and full ones
async def test_a_status_change_keeps_the_layout_and_repaints_one_row(
    tmp_path: Path,
    width: int,
) -> None:
    app, poller = build(tmp_path)
    async with app.run_test(size=(width, SIZE[1])) as pilot:
        for entry in ENTRIES:
            poller.observe(entry.id, "active")
        await pilot.pause()
        table = app.main.table
        layout = table.table_layout
        top = table.shown_keys[0]  # busy sorts above ok: a running top row stays on top
        spy = RefreshSpy(table)
        poller.observe(int(top), "running")  # "● active" (8 cells) -> "▶ running" (9)
        await pilot.pause()
        assert table.table_layout is not None and table.table_layout == layout
        assert plain(app, int(top), STATUS) == "▶ running"
        assert table.shown_keys[0] == top
        assert spy.whole == 0, "the whole table was repainted"
        assert {region.y for regions in spy.calls for region in regions} == {1}  # its line
        for status in (
            "scheduled",
            "not_active",
            "building_tables",
            "error_building_tables",
            "too_many_consecutive_failed_builds__blocked",
            "active",
        ):
            poller.observe(int(top), status)
            await pilot.pause()
            assert table.table_layout == layout, status


def test_the_status_column_fits_every_documented_status_and_never_shrinks() -> None:
    active = [Row(PipelineEntry(1, "a"), Observation(PipelineStatus(1, "active"), 0.0), 0.0)]
    for width in (80, 120, 200):
        layout = compute_layout(width, active, with_last_run=True)
        assert (
            compute_layout(
                width,
                [Row(PipelineEntry(1, "a"))],  # pending
                with_last_run=True,
            )
            == layout
        )
        for value in KNOWN_STATUSES:
            changed = [Row(PipelineEntry(1, "a"), Observation(PipelineStatus(1, value), 0.0), 0.0)]
            assert compute_layout(width, changed, with_last_run=True) == layout, value
    # an undocumented status widens the column; once seen, it is kept when it goes away
    odd = status_kind("rebuilding_everything_now")
    odd_row = [Row(PipelineEntry(1, "a"), Observation(PipelineStatus(1, odd.value), 0.0), 0.0)]
    wider = compute_layout(120, odd_row, with_last_run=True)  # short words, room to spare
    assert wider.width(STATUS) > compute_layout(120, active, with_last_run=True).width(STATUS)
    assert compute_layout(120, active, with_last_run=True, seen={odd}) == wider


async def test_the_tick_updates_the_rows_on_screen_and_a_row_scrolled_into_view_catches_up(
    tmp_path: Path,
) -> None:
    """At 1000 pipelines the tick walked every row each second; rows off screen now wait
    until they come into view."""
    many = tuple(PipelineEntry(10_000 + i, f"pipeline {i:04}", None) for i in range(1000))
    app, poller = build(tmp_path, entries=many)
    clock = app.clock
    assert isinstance(clock, ManualClock)
    async with app.run_test(size=SIZE) as pilot:
        for entry in many:
            poller.observe(entry.id, "active")
        await pilot.pause()
        table = app.main.table
        last = table.shown_keys[-1]
        on_screen = table.visible_keys()
        assert 0 < len(on_screen) <= SIZE[1] and last not in on_screen
        updates = table.cell_updates
        clock.advance(10)
        app.main.tick()
        assert table.cell_updates - updates == 2 * len(on_screen)  # since and age
        assert plain(app, int(on_screen[0]), AGE) == "10s"
        assert plain(app, int(last), AGE) == "<10s"  # off screen: not touched yet
        below = table.shown_keys[len(on_screen)]  # the first row under the screen
        assert plain(app, int(below), AGE) == "<10s"
        poller.observe(int(on_screen[0]), "not_active")  # to the bottom: rows move up
        await pilot.pause()
        assert below in table.visible_keys()
        assert plain(app, int(below), AGE) == "10s"  # brought up to date as it came in
        await pilot.press("end")
        await pilot.pause()
        assert last in table.visible_keys()
        assert plain(app, int(last), AGE) == "10s" and plain(app, int(last), SINCE) == "10s"


async def test_the_status_line_is_laid_out_again_only_when_its_width_changes(
    tmp_path: Path,
) -> None:
    app, poller = build(tmp_path)
    clock = app.clock
    assert isinstance(clock, ManualClock)
    async with app.run_test(size=SIZE) as pilot:
        poller.set_health(used_last_minute=11)
        await pilot.pause()
        clock.advance(10)  # the gauge is shown at the next 10-second step
        app.main.tick()
        await pilot.pause()
        health = app.main.query_one("#health", Static)
        layouts: list[bool] = []
        real_update = health.update

        def spying_update(content: Text, *, layout: bool = True) -> None:
            layouts.append(layout)
            real_update(content, layout=layout)

        health.update = spying_update  # type: ignore[method-assign]
        poller.set_health(used_last_minute=12)  # "12/18" for "11/18": same width
        await pilot.pause()
        clock.advance(10)
        app.main.tick()
        await pilot.pause()
        poller.set_health(used_last_minute=9)  # one cell narrower
        await pilot.pause()
        clock.advance(10)
        app.main.tick()
        await pilot.pause()
        assert layouts == [False, True]
        assert "9/18 req/min" in str(health.render())


async def test_a_row_is_marked_stale_as_of_the_step_end_never_late(tmp_path: Path) -> None:
    app, poller = build(tmp_path)
    clock = app.clock
    assert isinstance(clock, ManualClock)
    start = clock.now()
    async with app.run_test(size=SIZE) as pilot:
        poller.set_health(max_age=123.0)  # a limit between two steps of the clock
        poller.observe(2040, "active")
        await pilot.pause()
        limit = stale_after(app.main.board.health)
        assert limit is not None and limit % 10 > 1
        # the last moment whose step ends at or before the limit: not stale yet
        clock.advance(math.floor(limit / 10) * 10 - 0.5)
        app.main.tick()
        assert not plain(app, 2040, AGE).endswith(STALE_MARKER)
        # later in the next step, whose end is past the limit, the row is not yet older
        # than the limit: it is marked now rather than up to 10 s late
        clock.advance(start + limit - 0.5 - clock.now())
        app.main.tick()
        assert plain(app, 2040, AGE).endswith(STALE_MARKER)


@pytest.mark.parametrize(("offset", "delay"), [(0, 10), (3, 7), (9.99, 0.01), (10, 10)])
def test_the_tick_is_timed_just_after_the_next_step_of_the_clock(
    offset: float,
    delay: float,
) -> None:
    assert tick_delay(1_790_000_000.0 + offset) == pytest.approx(delay + TICK_LAG)
