"""The pipelines table: patched in place, never rebuilt on a refresh.

Rows are keyed by pipeline id. A refresh removes and adds rows by key, updates only the
cells whose text or style changed, re-sorts only when the order changed, and puts the
cursor back on the pipeline it was on (DataTable's cursor is index-based).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from typing import ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.coordinate import Coordinate
from textual.geometry import Region
from textual.message import Message
from textual.widgets import DataTable
from textual.widgets.data_table import (
    CellDoesNotExist,
    ColumnKey,
    RowDoesNotExist,
    RowKey,
)

from kondado_tui.ui.columns import GAP, ID, SORT_MARK, TITLES, Layout

BULK = 64  # more rows in or out than this: rebuild the rows instead of patching


def same_text(a: Text, b: Text) -> bool:
    """`Text.__eq__` ignores the base style; a colour change must still repaint."""
    return (
        a.plain == b.plain
        and a.style == b.style
        and a.spans == b.spans
        and a.justify == b.justify
    )


class PipelineTable(DataTable[Text]):
    class ViewMoved(Message):
        """Other rows came into view: their ages may be behind (the once-a-second tick
        only updates the rows on screen)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "details"),
        Binding("j", "cursor_down", "down", show=False),
        Binding("k", "cursor_up", "up", show=False),
        Binding("home", "scroll_top", "first", show=False),
        Binding("end", "scroll_bottom", "last", show=False),
    ]
    DEFAULT_CSS = """
    PipelineTable {
        height: 1fr;
        scrollbar-size-vertical: 1;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, cell_padding=0, id=id)
        self._layout: Layout | None = None
        self._shown: dict[str, dict[str, Text]] = {}
        self.cell_updates = 0  # counted for tests: a refresh must not repaint everything
        # Until the user moves the cursor it stays on the top row (the worst pipeline);
        # afterwards it follows the pipeline it is on through sorts and removals.
        self.touched = False
        self._sorted_by = ""

    @property
    def table_layout(self) -> Layout | None:
        return self._layout

    @property
    def selected_key(self) -> str | None:
        if self.row_count == 0:
            return None
        try:
            return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        except CellDoesNotExist:
            return None

    @property
    def shown_keys(self) -> list[str]:
        return [str(row.key.value) for row in self.ordered_rows]

    def visible_keys(self) -> list[str]:
        """The rows on screen, top to bottom (rows are one line high; one spare row, as
        the header takes a line)."""
        if not self.columns:
            return []
        first = max(0, int(self.scroll_y))
        last = min(self.row_count, first + self.size.height)
        return [str(self.coordinate_to_cell_key(Coordinate(index, 0)).row_key.value)
                for index in range(first, last)]

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if int(old_value) != int(new_value):
            self.post_message(self.ViewMoved())

    def cells(self, key: str) -> dict[str, Text] | None:
        return self._shown.get(key)

    def missing(self, layout: Layout, order: Sequence[str]) -> set[str]:
        """Keys whose cells `show` needs although nothing about them changed."""
        if layout != self._layout:
            return set(order)
        return {key for key in order if key not in self._shown}

    def show(
        self,
        layout: Layout,
        order: Sequence[str],
        cells: Mapping[str, dict[str, Text]],
        sorted_by: str = "",
    ) -> None:
        """Show exactly the rows in `order`, touching as little as possible.

        `cells` holds the rows that may have changed, and every row `missing` named.
        """
        selected = self.selected_key
        cursor_before = self.cursor_row
        if layout != self._layout:
            self._rebuild_columns(layout)
        if sorted_by != self._sorted_by:
            self._sorted_by = sorted_by
            self._label_columns()
        wanted = set(order)
        gone = [k for k in self._shown if k not in wanted]
        new = [k for k in order if k not in self._shown]
        if len(gone) + len(new) > BULK:
            # A filter on a long table: removing rows one by one costs O(n) each.
            keep = {k: v for k, v in self._shown.items() if k in wanted}
            self.clear()
            self._shown = {}
            for key in order:
                row = cells.get(key) or keep[key]
                self.add_row(*(row[c] for c in layout.keys), key=key)
                self._shown[key] = row
        else:
            for key in gone:
                self.remove_row(key)
                del self._shown[key]
            for key in order:
                fresh = cells.get(key)
                if fresh is None:
                    continue
                old = self._shown.get(key)
                if old is None:
                    self.add_row(*(fresh[c] for c in layout.keys), key=key)
                else:
                    for column, text in fresh.items():
                        if not same_text(old[column], text):
                            self._put(key, column, text)
                self._shown[key] = fresh
        if self.shown_keys != list(order):
            position = {key: index for index, key in enumerate(order)}
            self.sort(ID, key=lambda cell: position[cell.plain])
        self._restore_cursor(selected, cursor_before)

    def patch(self, key: str, changes: dict[str, Text]) -> None:
        """Update a few cells of one row (the once-a-second ages)."""
        old = self._shown.get(key)
        if old is None:
            return
        for column, text in changes.items():
            if column in old and not same_text(old[column], text):
                self._put(key, column, text)
                old[column] = text

    def _put(self, key: str, column: str, text: Text) -> None:
        """`update_cell`, repainting only that cell.

        `DataTable.update_cell` refreshes the whole widget, so the once-a-second age of
        one row rewrote every visible row to the terminal (~18 KB a second on a 120x36
        screen, measured in benchmarks/terminal_bytes.py). The cell's new value is
        stored the same way, and only its region is marked for repainting.
        """
        row_key, column_key = RowKey(key), ColumnKey(column)
        row = self._data.get(row_key)
        index = self._row_locations.get(row_key)
        column_index = self._column_locations.get(column_key)
        if row is None or index is None or column_index is None:
            raise CellDoesNotExist(f"No cell exists for row_key={key!r}, column_key={column!r}.")
        row[column_key] = text
        self._update_count += 1  # DataTable's render caches are keyed on this count
        self.cell_updates += 1
        # The cell's region, computed here: DataTable's own (`refresh_coordinate`) walks
        # every row above it, which made a tick of 2000 ages take seconds. Our rows are
        # all one line high, so the row index is the line.
        y = index + (self.header_height if self.show_header else 0)
        top = int(self.scroll_y)
        if not top <= y < top + self.size.height:
            return  # off screen: drawn from the new data when scrolled into view
        columns = self.ordered_columns
        x = sum(c.get_render_width(self) for c in columns[:column_index])
        width = columns[column_index].get_render_width(self)
        self._refresh_region(Region(x, y, width, 1))

    def select_key(self, key: str) -> None:
        self.touched = True
        with contextlib.suppress(RowDoesNotExist):
            self.move_cursor(row=self.get_row_index(key))

    def _rebuild_columns(self, layout: Layout) -> None:
        self.clear(columns=True)
        self._shown = {}
        for key, width in layout.widths:
            self.add_column(Text(TITLES[key]), width=width + GAP, key=key)
        self._layout = layout
        self._label_columns()

    def _label_columns(self) -> None:
        """The sorted column's title carries a ▼ (k9s-style) instead of a status-line word."""
        for key, column in self.columns.items():
            title = TITLES.get(str(key.value), "")
            column.label = Text(title + (SORT_MARK if key.value == self._sorted_by else ""))
        self.refresh()

    def action_cursor_up(self) -> None:
        self.touched = True
        super().action_cursor_up()

    def action_cursor_down(self) -> None:
        self.touched = True
        super().action_cursor_down()

    def action_page_up(self) -> None:
        self.touched = True
        super().action_page_up()

    def action_page_down(self) -> None:
        self.touched = True
        super().action_page_down()

    def action_scroll_top(self) -> None:
        self.touched = True
        super().action_scroll_top()

    def action_scroll_bottom(self) -> None:
        self.touched = True
        super().action_scroll_bottom()

    def on_mouse_down(self) -> None:
        self.touched = True

    def _restore_cursor(self, selected: str | None, cursor_before: int) -> None:
        if not self.touched:
            if self.row_count and self.cursor_row != 0:
                self.move_cursor(row=0)
        elif selected is not None and selected in self._shown:
            index = self.get_row_index(selected)
            if index != self.cursor_row:
                self.move_cursor(row=index)
        elif self.row_count:
            self.move_cursor(row=min(cursor_before, self.row_count - 1), scroll=False)
