"""The pipelines table widget on its own: what it repaints, and how its cursor behaves.

A days-long session over SSH must cost about one row of output per change, so these
tests hold the table to the screen lines it marks for repainting: a changed cell its own
region, a row that moves the lines it passed, nothing off screen, never the whole table.
"""

from __future__ import annotations

from rich.text import Text
from test_lifecycle_repaint import RefreshSpy
from textual.app import App, ComposeResult
from textual.geometry import Region

from kondado_tui.ui.view.columns import AGE, MARK, NAME, STATUS, Layout
from kondado_tui.ui.widgets.pipeline_table import PipelineTable

LAYOUT = Layout(widths=((MARK, 2), (STATUS, 10), (NAME, 20), (AGE, 5)))
SIZE = (60, 12)  # a header and 11 rows on screen
BODY = SIZE[1] - 1


def row(key: str, status: str = "active", age: str = "1m") -> dict[str, Text]:
    return {MARK: Text("  "), STATUS: Text(status), NAME: Text(f"pipeline {key}"), AGE: Text(age)}


KEYS = [str(1000 + n) for n in range(30)]


class TableApp(App[None]):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, str]] = []

    def compose(self) -> ComposeResult:
        yield PipelineTable()

    @property
    def table(self) -> PipelineTable:
        return self.query_one(PipelineTable)

    def fill(self, keys: list[str] = KEYS) -> None:
        self.table.show(LAYOUT, keys, {key: row(key) for key in keys}, sorted_by=STATUS)

    def on_pipeline_table_row_highlighted(self, event: PipelineTable.RowHighlighted) -> None:
        self.seen.append(("highlighted", event.key))

    def on_pipeline_table_row_selected(self, event: PipelineTable.RowSelected) -> None:
        self.seen.append(("selected", event.key))


def line_text(table: PipelineTable, y: int) -> str:
    return table.render_line(y).text


async def test_rows_are_drawn_under_a_header_with_the_sort_mark() -> None:
    app = TableApp()
    async with app.run_test(size=SIZE) as pilot:
        app.fill()
        await pilot.pause()
        table = app.table
        # each column ends with a one-cell gap
        assert line_text(table, 0).startswith("   status ▼   name                 age ")
        assert line_text(table, 1).startswith("   active     pipeline 1000        1m ")
        assert table.column_label(STATUS) == "status ▼" and table.column_label(NAME) == "name"
        assert table.visible_keys() == KEYS[:BODY]


async def test_a_changed_cell_repaints_its_own_region_only() -> None:
    app = TableApp()
    async with app.run_test(size=SIZE) as pilot:
        app.fill()
        await pilot.pause()
        spy = RefreshSpy(app.table)
        app.table.patch(KEYS[3], {AGE: Text("2m")})
        assert spy.calls == [(Region(35, 4, 6, 1),)]  # after mark, status and name; row 4
        app.table.patch(KEYS[3], {AGE: Text("2m")})  # the same text again: nothing
        assert len(spy.calls) == 1
        await pilot.pause()
        assert "2m" in line_text(app.table, 4)


async def test_a_row_moving_up_repaints_the_lines_it_passed_and_no_others() -> None:
    app = TableApp()
    async with app.run_test(size=SIZE) as pilot:
        app.fill()
        await pilot.pause()
        spy = RefreshSpy(app.table)
        moved = KEYS[6]
        order = [moved, *(k for k in KEYS if k != moved)]
        app.table.show(LAYOUT, order, {moved: row(moved, "failing")}, sorted_by=STATUS)
        assert spy.whole == 0
        # screen lines 1..7 held rows 0..6; each now shows another row; the header and
        # the lines below the old place did not change
        assert spy.lines == set(range(1, 8))
        await pilot.pause()
        assert line_text(app.table, 1).startswith("   failing    pipeline 1006")
        assert line_text(app.table, 7).startswith("   active     pipeline 1005")


async def test_a_row_changing_in_place_repaints_its_line() -> None:
    app = TableApp()
    async with app.run_test(size=SIZE) as pilot:
        app.fill()
        await pilot.pause()
        spy = RefreshSpy(app.table)
        app.table.show(LAYOUT, KEYS, {KEYS[2]: row(KEYS[2], "running")}, sorted_by=STATUS)
        assert spy.lines == {3}
        app.table.show(LAYOUT, KEYS, {KEYS[2]: row(KEYS[2], "running")}, sorted_by=STATUS)
        assert spy.lines == {3}, "an unchanged row was repainted"


async def test_a_redraw_that_keeps_a_row_in_place_repaints_its_changed_cells_only() -> None:
    """The 10-second step: show() with new ages, every row on its line."""
    app = TableApp()
    async with app.run_test(size=SIZE) as pilot:
        app.fill()
        await pilot.pause()
        spy = RefreshSpy(app.table)
        cells = {KEYS[1]: row(KEYS[1], age="2m"), KEYS[4]: row(KEYS[4], "failing", "2m")}
        app.table.show(LAYOUT, KEYS, cells, sorted_by=STATUS)
        # row 1: its age only; row 4: from its status to its age (one span per line)
        assert sorted(spy.calls) == [(Region(3, 5, 38, 1),), (Region(35, 2, 6, 1),)]
        await pilot.pause()
        assert line_text(app.table, 2).startswith("   active     pipeline 1001        2m ")
        assert line_text(app.table, 5).startswith("   failing    pipeline 1004        2m ")


async def test_changes_off_screen_repaint_nothing_and_show_when_scrolled_to() -> None:
    app = TableApp()
    async with app.run_test(size=SIZE) as pilot:
        app.fill()
        await pilot.pause()
        spy = RefreshSpy(app.table)
        app.table.patch(KEYS[25], {AGE: Text("9m")})
        app.table.show(LAYOUT, KEYS, {KEYS[26]: row(KEYS[26], "running")}, sorted_by=STATUS)
        assert spy.calls == []
        await pilot.press("end")
        await pilot.pause()
        assert app.table.visible_keys()[-1] == KEYS[-1]
        screen = [line_text(app.table, y) for y in range(SIZE[1])]
        assert any("pipeline 1025" in line and "9m" in line for line in screen)
        assert any("running    pipeline 1026" in line for line in screen)


async def test_keys_move_the_cursor_and_keep_it_on_screen() -> None:
    app = TableApp()
    async with app.run_test(size=SIZE) as pilot:
        app.fill()
        await pilot.pause()
        table = app.table
        table.focus()
        await pilot.press("j", "down")
        assert table.selected_key == KEYS[2] and table.touched
        await pilot.press("k")
        assert table.selected_key == KEYS[1]
        await pilot.press("pagedown")
        assert table.cursor_row == 1 + BODY
        assert table.selected_key in table.visible_keys()
        await pilot.press("end")
        assert table.selected_key == KEYS[-1] and KEYS[-1] in table.visible_keys()
        await pilot.press("pageup")
        assert table.cursor_row == len(KEYS) - 1 - BODY
        await pilot.press("home")
        assert table.cursor_row == 0 and table.visible_keys()[0] == KEYS[0]
        await pilot.press("enter")
        await pilot.pause()
        assert ("selected", KEYS[0]) in app.seen
        assert [k for what, k in app.seen if what == "highlighted"][-1] == KEYS[0]


async def test_a_click_moves_the_cursor_and_a_second_click_selects() -> None:
    app = TableApp()
    async with app.run_test(size=SIZE) as pilot:
        app.fill()
        await pilot.pause()
        await pilot.click(PipelineTable, offset=(5, 4))  # screen line 4 = the 4th row
        await pilot.pause()
        assert app.table.selected_key == KEYS[3]
        assert ("highlighted", KEYS[3]) in app.seen
        await pilot.click(PipelineTable, offset=(5, 4))
        await pilot.pause()
        assert ("selected", KEYS[3]) in app.seen
        await pilot.click(PipelineTable, offset=(5, 0))  # the header: nothing
        await pilot.pause()
        assert app.table.selected_key == KEYS[3]


async def test_the_cursor_stays_on_top_until_moved_then_follows_its_pipeline() -> None:
    app = TableApp()
    async with app.run_test(size=SIZE) as pilot:
        app.fill()
        await pilot.pause()
        table = app.table
        assert ("highlighted", KEYS[0]) in app.seen  # the first row appeared under it
        moved = [KEYS[9], *(k for k in KEYS if k != KEYS[9])]
        table.show(LAYOUT, moved, {KEYS[9]: row(KEYS[9], "failing")}, sorted_by=STATUS)
        assert table.selected_key == KEYS[9], "untouched, the cursor shows the worst row"
        table.focus()
        await pilot.press("j", "j")
        assert table.selected_key == KEYS[1]
        seen = len(app.seen)
        table.show(LAYOUT, KEYS, {KEYS[9]: row(KEYS[9])}, sorted_by=STATUS)
        assert table.selected_key == KEYS[1]  # followed its pipeline to another line
        await pilot.pause()
        assert len(app.seen) == seen, "the same pipeline is not a new highlight"
        table.show(LAYOUT, [k for k in KEYS if k != KEYS[1]], {}, sorted_by=STATUS)
        assert table.cursor_row == 1 and table.selected_key == KEYS[2]  # its place taken


async def test_the_scroll_position_is_reported_so_ages_can_catch_up() -> None:
    moved: list[int] = []

    class Watching(TableApp):
        def on_pipeline_table_view_moved(self) -> None:
            moved.append(1)

    app = Watching()
    async with app.run_test(size=SIZE) as pilot:
        app.fill()
        await pilot.pause()
        app.table.scroll_to(y=5, animate=False)
        await pilot.pause()
        assert moved
        assert app.table.visible_keys()[0] == KEYS[5]


async def test_a_theme_change_draws_rows_again_in_the_new_colours() -> None:
    app = TableApp()
    async with app.run_test(size=SIZE) as pilot:
        app.fill()
        await pilot.pause()
        dark = app.table.render_line(3)
        app.theme = "textual-light"
        await pilot.pause()
        light = app.table.render_line(3)
        assert dark.text == light.text
        assert next(iter(dark)).style != next(iter(light)).style
