"""The table sync without an app: which rows, in which order, which cells changed.

`TableSync` (ui/view/table_sync.py) drives a `TableView`; here a recording stand-in for
`PipelineTable`, so each flush's work (a full pass, a patch, nothing) is visible.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

from rich.text import Text

from kondado_tui.core.config import PipelineEntry
from kondado_tui.core.events import StatusObserved
from kondado_tui.core.models import Observation, PipelineStatus
from kondado_tui.ui.view.board import Board, SortMode
from kondado_tui.ui.view.columns import AGE, MESSAGE, NAME, SINCE, STATUS, Layout, age_step
from kondado_tui.ui.view.table_sync import Flushed, TableSync

T0 = 1_790_000_000.0
WIDTH = 120


class RecordingTable:
    """The part of `PipelineTable` the sync uses, recording what it was asked."""

    def __init__(self, height: int = 30) -> None:
        self.height = height
        self.table_layout: Layout | None = None
        self.order: list[str] = []
        self.shown: dict[str, dict[str, Text]] = {}
        self.sorted_by = ""
        self.shows = 0
        self.patches: list[tuple[str, list[str]]] = []
        self.selected: str | None = None

    def cells(self, key: str) -> dict[str, Text] | None:
        return self.shown.get(key)

    def visible_keys(self) -> list[str]:
        return self.order[: self.height]

    def missing(self, layout: Layout, order: Sequence[str]) -> set[str]:
        if layout != self.table_layout:
            return set(order)
        return {key for key in order if key not in self.shown}

    def show(
        self,
        layout: Layout,
        order: Sequence[str],
        cells: Mapping[str, dict[str, Text]],
        sorted_by: str = "",
    ) -> None:
        self.shows += 1
        if layout != self.table_layout:
            self.shown = {}
        self.table_layout = layout
        self.shown = {key: dict(cells.get(key) or self.shown[key]) for key in order}
        self.order = list(order)
        self.sorted_by = sorted_by

    def patch(self, key: str, changes: dict[str, Text]) -> None:
        self.patches.append((key, sorted(changes)))
        self.shown[key].update(changes)

    def select_key(self, key: str) -> None:
        self.selected = key


def board() -> Board:
    return Board.of(
        [PipelineEntry(1, "alpha", "g1"), PipelineEntry(2, "beta", "g2"), PipelineEntry(3)],
        started_at=T0,
    )


def observed(pid: int, status: str, at: float, raw_msg: str | None = None) -> StatusObserved:
    return StatusObserved(
        pid, Observation(PipelineStatus(pid, status, raw_msg=raw_msg), at), None, at
    )


def synced(b: Board, table: RecordingTable, now: float = T0) -> TableSync:
    sync = TableSync(b, with_last_run=False)
    assert sync.flush(table, WIDTH, now) is Flushed.REDRAWN
    return sync


def test_the_first_flush_shows_every_row_sorted_by_severity() -> None:
    b = board()
    b.observe(observed(2, "error_building_tables", T0, "boom"))
    table = RecordingTable()
    synced(b, table)
    assert table.order[0] == "2"  # trouble on top
    assert set(table.order) == {"1", "2", "3"}
    assert table.sorted_by == STATUS


def test_an_answer_that_keeps_the_row_in_place_patches_that_row_only() -> None:
    b = board()
    for pid in (1, 2, 3):
        b.observe(observed(pid, "error_building_tables", T0, "boom"))
    table = RecordingTable()
    sync = synced(b, table)
    b.observe(observed(2, "error_building_tables", T0 + 1, "another message"))
    sync.refresh_row(2)
    assert sync.flush(table, WIDTH, T0 + 1) is Flushed.PATCHED
    assert table.shows == 1  # no full pass
    assert [key for key, _ in table.patches] == ["2"]
    assert "another message" in table.shown["2"][MESSAGE].plain


def test_an_answer_that_changes_nothing_shown_draws_nothing() -> None:
    b = board()
    b.observe(observed(1, "active", T0))
    table = RecordingTable()
    sync = synced(b, table)
    b.observe(observed(1, "active", T0 + 1))  # same status, one second later
    sync.refresh_row(1)
    assert sync.flush(table, WIDTH, T0 + 1) is Flushed.NOTHING
    assert table.shows == 1 and not table.patches


def test_a_row_moving_into_trouble_is_a_full_pass() -> None:
    b = board()
    for pid in (1, 2, 3):
        b.observe(observed(pid, "active", T0))
    table = RecordingTable()
    sync = synced(b, table)
    b.observe(observed(3, "error_building_tables", T0 + 1, "boom"))
    sync.refresh_row(3)
    assert sync.flush(table, WIDTH, T0 + 1) is Flushed.REDRAWN
    assert table.shows == 2 and table.order[0] == "3"


def test_sort_and_filter_are_the_syncs_and_a_new_width_redraws() -> None:
    b = board()
    table = RecordingTable()
    sync = synced(b, table)
    sync.sort_mode = SortMode.NAME
    sync.refresh_all()
    assert sync.flush(table, WIDTH, T0) is Flushed.REDRAWN
    assert table.sorted_by == NAME
    sync.filter_text = "beta"
    sync.refresh_all()
    sync.flush(table, WIDTH, T0)
    assert table.order == ["2"]
    sync.refresh_row(2)
    assert sync.flush(table, WIDTH - 20, T0) is Flushed.REDRAWN  # another width


def test_the_cursor_goes_to_a_row_added_by_the_next_flush() -> None:
    b = board()
    table = RecordingTable()
    sync = synced(b, table)
    b.set_entries([*(r.entry for r in b.rows.values()), PipelineEntry(4, "delta")])
    sync.select_when_shown(4)
    assert sync.flush(table, WIDTH, T0) is Flushed.REDRAWN
    assert "4" in table.order and table.selected == "4"
    table.selected = None
    sync.refresh_all()
    sync.flush(table, WIDTH, T0)
    assert table.selected is None  # once


def test_the_step_moves_the_ages_of_the_rows_on_screen_only() -> None:
    b = board()
    for pid in (1, 2, 3):
        b.observe(observed(pid, "active", T0))
    table = RecordingTable(height=2)
    sync = synced(b, table)
    later = T0 + 25
    assert sync.new_step(later) and not sync.new_step(later)  # once per step
    assert age_step(later) != age_step(T0)
    sync.bring_up_to_date(table, later)
    patched = {key for key, _ in table.patches}
    assert patched == set(table.order[:2])
    assert all(set(columns) <= {AGE, SINCE} for _, columns in table.patches)
    table.patches.clear()
    sync.bring_up_to_date(table, later)
    assert not table.patches  # nothing changed since: nothing rendered


def test_the_batch_holds_the_table_changes() -> None:
    depth: list[int] = [0]
    seen: list[int] = []

    @contextmanager
    def batch() -> Iterator[None]:
        depth[0] += 1
        yield
        depth[0] -= 1

    class Watching(RecordingTable):
        def show(self, *args: object, **kwargs: object) -> None:
            seen.append(depth[0])
            super().show(*args, **kwargs)  # type: ignore[arg-type]

    sync = TableSync(board(), with_last_run=False, batch=batch)
    sync.flush(Watching(), WIDTH, T0)
    assert seen == [1]
