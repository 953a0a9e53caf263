"""A days-long session must not rewrite the screen every second.

`DataTable.update_cell` refreshes the whole table, so the ticking age of one row used to
repaint every visible row (~18 KB/s to the terminal at 120x36; see
benchmarks/terminal_bytes.py for the measurement on a real pty). The table now marks only
the changed cell's region; these tests hold it to that, and check the cell still shows
the new value.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.geometry import Region
from ui_fakes import ENTRIES, FakePoller, FakeSession, make_config, screen_text

from kondado_tui.core.clock import ManualClock
from kondado_tui.ui.app import KondadoApp
from kondado_tui.ui.view.columns import AGE, STATUS

SIZE = (120, 36)


def build(tmp_path: Path) -> tuple[KondadoApp, FakePoller, ManualClock]:
    clock = ManualClock(frozen=True)
    poller = FakePoller(clock, [e.id for e in ENTRIES])
    config = make_config(tmp_path / "config.toml", ENTRIES)
    app = KondadoApp(FakeSession(config, poller), clock=clock, env={"TERM": "xterm"})
    return app, poller, clock


class RefreshSpy:
    """Records each `refresh` of a widget: the regions asked for ([] = everything)."""

    def __init__(self, widget: Any) -> None:
        self.calls: list[tuple[Region, ...]] = []
        original = widget.refresh

        def spy(*regions: Region, **options: Any) -> Any:
            self.calls.append(regions)
            return original(*regions, **options)

        widget.refresh = spy

    @property
    def whole(self) -> int:
        return sum(1 for regions in self.calls if not regions)

    @property
    def lines(self) -> set[int]:
        """The widget's lines asked to be repainted (not counting whole refreshes)."""
        return {
            y
            for regions in self.calls
            for region in regions
            for y in range(region.y, region.bottom)
        }


async def test_ticking_ages_repaint_only_their_cells(tmp_path: Path) -> None:
    app, poller, clock = build(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        for entry in ENTRIES:
            poller.observe(entry.id, "active")
        await pilot.pause()
        table = app.main.table
        spy = RefreshSpy(table)
        before = table.cell_updates
        clock.advance(10)  # ages under a minute go in 10 s steps: "<10s" -> "10s"
        app.main.tick()
        await pilot.pause()
        assert table.cell_updates - before == 2 * len(ENTRIES)  # "since" and "age"
        assert spy.calls, "the ages changed, so something must be repainted"
        assert spy.whole == 0, "a one-cell change refreshed the whole table"
        height = {region.height for regions in spy.calls for region in regions}
        assert height == {1}
        assert table.get_cell(str(ENTRIES[0].id), AGE).plain.strip() == "10s"
        assert "10s" in app.export_screenshot()


async def test_a_status_change_repaints_its_row_not_the_table(tmp_path: Path) -> None:
    app, poller, _clock = build(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        for entry in ENTRIES:
            poller.observe(entry.id, "active")
        poller.observe(ENTRIES[2].id, "active", "first warning")  # alone on top (a warning)
        await pilot.pause()
        table = app.main.table
        spy = RefreshSpy(table)
        target = str(ENTRIES[2].id)
        order = table.shown_keys
        assert order[0] == target
        poller.observe(ENTRIES[2].id, "active", "a warning about a column")  # same severity
        await pilot.pause()
        assert table.shown_keys == order  # no re-sort: the change stays in its row
        assert spy.whole == 0
        rows = {region.y for regions in spy.calls for region in regions}
        assert len(rows) == 1
        assert "active" in table.get_cell(target, STATUS).plain
        assert "a warning about a column" in app.export_screenshot().replace("&#160;", " ")


async def test_a_row_moving_into_trouble_repaints_the_rows_it_passed_not_the_table(
    tmp_path: Path,
) -> None:
    app, poller, _clock = build(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        for entry in ENTRIES:
            poller.observe(entry.id, "active")
        await pilot.pause()
        table = app.main.table
        order = table.shown_keys
        target = order[3]
        spy = RefreshSpy(table)
        poller.observe(int(target), "failed", "connection refused")
        await pilot.pause()
        assert table.shown_keys[0] == target
        assert spy.whole == 0, "a re-sort refreshed the whole table"
        # screen lines 1-4 held the first four rows; the header and the fifth row stay
        assert spy.lines == {1, 2, 3, 4}
        assert "connection refused" in app.export_screenshot().replace("&#160;", " ")


async def test_the_first_sweeps_progress_moves_with_the_step_not_each_answer(
    tmp_path: Path,
) -> None:
    """ "asking 2/5…" gains one at each answer of the first sweep: shown at the next
    10-second step with the ages, not a status-line repaint per answer."""
    app, poller, clock = build(tmp_path)
    total = len(ENTRIES)
    async with app.run_test(size=SIZE) as pilot:
        poller.set_health(last_success_at=None, from_history=total)
        for entry in ENTRIES:  # remembered from history (before this session), not stale
            poller.observe(entry.id, "active", at=clock.now() - 30)
        await pilot.pause()
        assert f"asking 0/{total}" in screen_text(app)

        def answer(n: int) -> None:  # the n-th answer of the sweep: nothing changed
            poller.observe(ENTRIES[n - 1].id, "active")
            poller.set_health(last_success_at=clock.now(), from_history=total - n)

        answer(1)  # the first answer: the banner's "none confirmed" is over, at once
        await pilot.pause()
        assert f"asking 1/{total}" in screen_text(app)
        spy = RefreshSpy(app.main.query_one("#health"))
        answer(2)
        await pilot.pause()
        assert spy.calls == [], "the status line was repainted for one more answer"
        assert f"asking 1/{total}" in screen_text(app)
        clock.advance(10)
        app.main.tick()
        await pilot.pause()
        assert f"asking 2/{total}" in screen_text(app)
