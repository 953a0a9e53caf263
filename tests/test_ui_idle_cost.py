"""What the idle dashboard repaints: ages change a cell at most every 10 s, and a status
change touches its own row, never the layout (benchmarks/results/ui_cost_findings.md)."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_ui_app import SIZE, build, plain

from kondado_tui.clock import ManualClock
from kondado_tui.ui.columns import AGE, SINCE, table_age
from kondado_tui.ui.screens import main as main_screen


@pytest.mark.parametrize(("seconds", "shown"), [
    (0, "<10s"), (9.99, "<10s"), (10, "10s"), (19.5, "10s"), (59.9, "50s"), (60, "1m"),
    (3599, "59m"), (7200, "2h"), (float("nan"), "<10s"), (-5, "<10s"),
])
def test_table_ages_under_a_minute_go_in_ten_second_steps(seconds: float, shown: str) -> None:
    assert table_age(seconds) == shown


async def test_a_young_age_repaints_once_per_ten_seconds_and_ticks_render_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    app, poller = build(tmp_path)
    clock = app.clock
    assert isinstance(clock, ManualClock)
    rendered: list[object] = []
    real_render = main_screen.render_cells

    def counting_render(*args: object, **kwargs: object) -> object:
        rendered.append(args[0])
        return real_render(*args, **kwargs)  # type: ignore[arg-type]

    async with app.run_test(size=SIZE) as pilot:
        poller.observe(2040, "active")
        await pilot.pause()
        assert plain(app, 2040, AGE) == "<10s" and plain(app, 2040, SINCE) == "<10s"
        table = app.main.table
        monkeypatch.setattr(main_screen, "render_cells", counting_render)
        updates, repaints = table.cell_updates, table._update_count
        for _ in range(9):  # 1 s .. 9 s: the text stays "<10s"
            clock.advance(1)
            app.main.tick()
        assert table.cell_updates == updates and table._update_count == repaints
        assert rendered == []  # not even rendered to be compared
        clock.advance(1)  # 10 s: since and age both say "10s"
        app.main.tick()
        assert plain(app, 2040, AGE) == "10s" and plain(app, 2040, SINCE) == "10s"
        assert table.cell_updates == updates + 2
        rendered.clear()
        for _ in range(9):
            clock.advance(1)
            app.main.tick()
        assert table.cell_updates == updates + 2 and rendered == []
