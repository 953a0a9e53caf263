"""Which rows the pipelines table shows, in which order, and which of their cells changed.

The dashboard marks what may have changed (`refresh_all`, `refresh_row`) and later calls
`flush` once for the whole burst; the table is patched, never rebuilt:

- an answer that leaves a row where it is (same filter result, same sort key, nothing
  widening a column) repaints that row's changed cells and nothing else: O(dirty rows),
  not a sort and a re-measure of every row;
- anything else (sort, filter, theme, width, a row moving) is a full pass: the rows
  filtered and sorted, the layout measured, and `PipelineTable.show` given only the
  cells it lacks or that may have changed;
- at each 10-second step `bring_up_to_date` moves the ages, since and stale style of the
  rows on screen (`columns.shown_at`); a row off screen is brought up to date when it
  comes into view.

A plain class over a `TableView` (what it needs of `PipelineTable`), so it is tested
without an app (tests/ui/test_table_sync.py).
"""

from __future__ import annotations

import contextlib
import enum
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Protocol

from rich.text import Text

from kondado_tui.core.models import StatusKind
from kondado_tui.ui.view.board import Board, Row, SortMode, sort_key
from kondado_tui.ui.view.columns import (
    AGE,
    ID,
    NAME,
    SHOWABLE_KINDS,
    SINCE,
    STATUS,
    Layout,
    age_step,
    changed_columns,
    compute_layout,
    render_cells,
    shown_at,
    ticking_words,
)
from kondado_tui.ui.view.palette import Palette

SORT_COLUMN = {SortMode.SEVERITY: STATUS, SortMode.NAME: NAME, SortMode.ID: ID, SortMode.AGE: AGE}

Placement = tuple[bool, tuple[int, str, int] | None]  # filtered in, sort key


class TableView(Protocol):
    """What the sync needs of the table widget (`PipelineTable`)."""

    @property
    def table_layout(self) -> Layout | None: ...

    def cells(self, key: str) -> dict[str, Text] | None: ...

    def visible_keys(self) -> list[str]: ...

    def missing(self, layout: Layout, order: Sequence[str]) -> set[str]: ...

    def show(
        self,
        layout: Layout,
        order: Sequence[str],
        cells: Mapping[str, dict[str, Text]],
        sorted_by: str = "",
    ) -> None: ...

    def patch(self, key: str, changes: dict[str, Text]) -> None: ...

    def select_key(self, key: str) -> None: ...


class Flushed(enum.Enum):
    """What a `flush` did to the table."""

    NOTHING = "nothing"  # only ages moved: they and the gauge wait for the step
    PATCHED = "patched"  # some rows' cells, in place
    REDRAWN = "redrawn"  # a full pass: order, layout, rows added or removed


def only_ticking(table: TableView, key: str, cells: dict[str, Text]) -> bool:
    """Whether the row shown under `key` differs from `cells` in its since/age only."""
    shown = table.cells(key)
    return shown is not None and set(changed_columns(shown, cells)) <= {SINCE, AGE}


class TableSync:
    """The table's rows kept in step with a `Board`, patching rather than rebuilding."""

    def __init__(
        self,
        board: Board,
        *,
        with_last_run: bool,
        palette: Palette | None = None,
        batch: Callable[[], AbstractContextManager[object]] = contextlib.nullcontext,
    ) -> None:
        self.board = board
        self.with_last_run = with_last_run  # the last-run column exists (a history store)
        self.palette = palette or Palette.from_variables({})
        self.sort_mode = SortMode.SEVERITY
        self.filter_text = ""
        # holds the terminal's repaints while several rows change (App.batch_update)
        self._batch = batch
        self.layout: Layout | None = None
        self._stale: dict[int, bool] = {}
        # every status shown this session: the status column never shrinks, so a row
        # going back and forth between two statuses cannot flip the layout
        self._kinds_seen: set[StatusKind] = set()
        self._dirty: set[int] = set()
        self._full = True
        # what the last full redraw sorted and filtered by, per row, and for which
        # width: an answer that leaves these alone patches its row and nothing else
        self._placed: dict[int, Placement] = {}
        self._placed_width = 0
        self._select_after: str | None = None
        self._age_step = 0  # the 10-second step the ages on screen were drawn for

    # -- what may have changed ---------------------------------------------------------

    def refresh_all(self) -> None:
        """Every row at the next flush (sort, filter, theme, layout changed)."""
        self._full = True

    def refresh_row(self, pipeline_id: int) -> None:
        self._dirty.add(pipeline_id)

    def select_when_shown(self, pipeline_id: int) -> None:
        """Put the cursor on a row that the next flush adds (a full one)."""
        self._select_after = str(pipeline_id)
        self._full = True

    def new_step(self, now: float) -> bool:
        """Whether `now` is in another 10-second step than the ages on screen (and from
        now on they count as drawn for it)."""
        step = age_step(now)
        if step == self._age_step:
            return False
        self._age_step = step
        return True

    # -- bringing the table up to date -------------------------------------------------

    def flush(self, table: TableView, width: int, now: float) -> Flushed:
        """Show what was marked since the last flush, as cheaply as it allows."""
        patched = None if self._full else self._patch_in_place(table, width, now)
        if patched is not None:
            self._dirty.clear()
            return Flushed.PATCHED if patched else Flushed.NOTHING
        rows = self.board.ordered(self.sort_mode, self.filter_text, now)
        shown_rows = list(self.board.rows.values())
        self._kinds_seen.update(row.kind for row in shown_rows)
        layout = compute_layout(
            width, shown_rows, with_last_run=self.with_last_run, seen=self._kinds_seen
        )
        self.layout = layout
        order = [str(row.id) for row in rows]
        wanted = table.missing(layout, order)
        if not self._full:
            wanted |= {str(pid) for pid in self._dirty}
        cells: dict[str, dict[str, Text]] = {}
        for row in rows:
            key = str(row.id)
            if self._full or key in wanted:
                stale = self._is_stale(row, now)
                self._stale[row.id] = stale
                cells[key] = render_cells(row, layout, self.palette, now, stale)
        self._full = False
        self._dirty.clear()
        self._placed = {pid: self._place(row) for pid, row in self.board.rows.items()}
        self._placed_width = width
        with self._batch():
            table.show(layout, order, cells, SORT_COLUMN[self.sort_mode])
            self.bring_up_to_date(table, now)  # rows that moved into view
            if self._select_after is not None:
                table.select_key(self._select_after)
                self._select_after = None
        return Flushed.REDRAWN

    def bring_up_to_date(self, table: TableView, now: float) -> None:
        """The stale style, since and age of the rows on screen."""
        layout = self.layout
        if layout is None:
            return
        ticking = {k for k in (SINCE, AGE) if k in layout.keys}
        for key in table.visible_keys():
            row = self.board.rows.get(int(key))
            if row is None:
                continue
            stale = self._is_stale(row, now)
            if stale != self._stale.get(row.id):
                self._stale[row.id] = stale  # the whole row changes style
                table.patch(key, render_cells(row, layout, self.palette, now, stale))
            elif row.observation is not None:
                shown = table.cells(key)
                words = ticking_words(row, now, stale)
                if shown is not None and all(
                    shown[column].plain == words[column] for column in ticking
                ):
                    continue  # nothing to render, nothing to repaint
                table.patch(key, render_cells(row, layout, self.palette, now, stale, only=ticking))

    # -- inside ------------------------------------------------------------------------

    def _is_stale(self, row: Row, now: float) -> bool:
        """Stale as of the end of the 10-second step, like the ages shown beside it: a
        row is marked stale up to 10 s early rather than a moment late."""
        return self.board.is_stale(row, shown_at(now))

    def _place(self, row: Row) -> Placement:
        return row.matches(self.filter_text), sort_key(row, self.sort_mode)

    def _patch_in_place(self, table: TableView, width: int, now: float) -> bool | None:
        """Redraw only the dirty rows when none of them moves, appears, disappears or
        widens a column: O(dirty rows), not a sort and a re-measure of every row.
        None when a full redraw is needed; else whether any row was redrawn."""
        layout = self.layout
        if (
            layout is None
            or layout != table.table_layout
            or width != self._placed_width
            or self.sort_mode is SortMode.AGE
            or self._select_after is not None
        ):
            return None
        rows = [self.board.rows.get(pid) for pid in self._dirty]
        for row in rows:
            if row is None or self._placed.get(row.id) != self._place(row):
                return None
            if row.kind not in SHOWABLE_KINDS and row.kind not in self._kinds_seen:
                return None  # a new undocumented status may widen the status column
        patched = False
        with self._batch():
            for row in rows:
                key = str(row.id) if row is not None else ""
                if row is None or table.cells(key) is None:
                    continue  # filtered out, and still filtered out
                stale = self._is_stale(row, now)
                cells = render_cells(row, layout, self.palette, now, stale)
                if stale == self._stale.get(row.id) and only_ticking(table, key, cells):
                    continue  # an answer that changed nothing: its age moves at the step
                self._stale[row.id] = stale
                table.patch(key, cells)
                patched = True
        return patched


__all__ = ["SORT_COLUMN", "Flushed", "TableSync", "TableView", "only_ticking"]
