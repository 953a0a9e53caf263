"""The pipelines table: a Line-API widget that repaints only what changed.

Rows are keyed by pipeline id and are one line high, under a fixed header line. Each row
is rendered once into a `Strip` and kept until one of its cells changes; the widget
repaints a cell's region when its text changes, and when the order changes (a row moving
into trouble) only the screen lines whose row changed. Textual's `DataTable` re-renders
every cell of a repainted row and repaints the whole table on a sort (~18 KB on a 120x36
screen): this table exists to make a days-long session over SSH cost about one row of
output per change (benchmarks/terminal_bytes.py).

The cursor is on a pipeline, not on an index: it follows its pipeline through re-sorts
once the user has moved it, and stays on the top row (the worst pipeline) until then.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from kondado_tui.ui.view.columns import GAP, SORT_MARK, TITLES, Layout, changed_columns

HEADER_LINES = 1


@functools.cache
def _column(index: int) -> Style:
    return Style.from_meta({"column": index})


class PipelineTable(ScrollView, can_focus=True):
    class ViewMoved(Message):
        """Other rows came into view: their ages may be behind (the once-a-second tick
        only updates the rows on screen)."""

    class RowHighlighted(Message):
        """The cursor moved onto another row (by a key, a click, or the first row
        appearing under it)."""

        def __init__(self, key: str) -> None:
            super().__init__()
            self.key = key

    class RowSelected(Message):
        """enter, or a click on the row already under the cursor."""

        def __init__(self, key: str) -> None:
            super().__init__()
            self.key = key

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "details", id="details"),
        Binding("up,k", "cursor_up", "up", show=False),
        Binding("down,j", "cursor_down", "down", show=False),
        Binding("pageup", "page_up", "page up", show=False),
        Binding("pagedown", "page_down", "page down", show=False),
        Binding("home,ctrl+home", "scroll_top", "first", show=False),
        Binding("end,ctrl+end", "scroll_bottom", "last", show=False),
        Binding("left", "scroll_left", "left", show=False),
        Binding("right", "scroll_right", "right", show=False),
    ]
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "pipeline-table--header",
        "pipeline-table--cursor",
    }
    # The look of Textual's DataTable, which this table replaced (snapshots compare).
    DEFAULT_CSS = """
    PipelineTable {
        height: 1fr;
        scrollbar-size-vertical: 1;
        background: $surface;
        color: $foreground;
        &:focus {
            background-tint: $foreground 5%;
            & > .pipeline-table--cursor {
                background: $block-cursor-background;
                color: $block-cursor-foreground;
                text-style: $block-cursor-text-style;
            }
            & > .pipeline-table--header { background-tint: $foreground 5%; }
        }
        & > .pipeline-table--header {
            text-style: bold; background: $panel; color: $foreground;
        }
        &:ansi > .pipeline-table--header {
            background: ansi_bright_blue; color: ansi_default;
        }
        & > .pipeline-table--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._layout: Layout | None = None
        self._order: list[str] = []
        self._index: dict[str, int] = {}
        self._shown: dict[str, dict[str, Text]] = {}
        self._labels: dict[str, str] = {}
        self._sorted_by = ""
        self.cursor_row = 0
        # Rendered rows without the cursor, for one base style (a theme or focus change
        # gives another base style and empties the cache).
        self._strips: dict[str, Strip] = {}
        self._strip_style: Style | None = None
        self.cell_updates = 0  # counted for tests: a refresh must not repaint everything
        self.lines_refreshed = 0  # screen lines marked for repainting, for the same tests
        # Until the user moves the cursor it stays on the top row (the worst pipeline);
        # afterwards it follows the pipeline it is on through sorts and removals.
        self.touched = False

    # -- what is shown ----------------------------------------------------------------

    @property
    def table_layout(self) -> Layout | None:
        return self._layout

    @property
    def row_count(self) -> int:
        return len(self._order)

    @property
    def selected_key(self) -> str | None:
        if not self._order:
            return None
        return self._order[min(self.cursor_row, len(self._order) - 1)]

    @property
    def shown_keys(self) -> list[str]:
        return list(self._order)

    def get_row_index(self, key: str) -> int:
        """The row's position, top to bottom (KeyError when it is not shown)."""
        return self._index[key]

    def get_cell(self, key: str, column: str) -> Text:
        return self._shown[key][column]

    def cells(self, key: str) -> dict[str, Text] | None:
        return self._shown.get(key)

    def column_label(self, column: str) -> str:
        """The header's title for a column, with the sort mark when sorted by it."""
        return self._labels.get(column, "")

    def column_widths(self) -> list[tuple[str, int]]:
        """(column, cells wide including its gap), left to right."""
        if self._layout is None:
            return []
        return [(key, width + GAP) for key, width in self._layout.widths]

    def visible_keys(self) -> list[str]:
        """The rows on screen, top to bottom."""
        first = self._first_visible()
        return self._order[first : first + self._body_height()]

    def missing(self, layout: Layout, order: Sequence[str]) -> set[str]:
        """Keys whose cells `show` needs although nothing about them changed."""
        if layout != self._layout:
            return set(order)
        return {key for key in order if key not in self._shown}

    # -- changing it ------------------------------------------------------------------

    def show(
        self,
        layout: Layout,
        order: Sequence[str],
        cells: Mapping[str, dict[str, Text]],
        sorted_by: str = "",
    ) -> None:
        """Show exactly the rows in `order`, repainting as little as possible.

        `cells` holds the rows that may have changed, and every row `missing` named.
        """
        selected = self.selected_key
        was_empty = not self._order
        before = self.visible_keys()
        top = self._first_visible()
        if layout != self._layout:
            self._layout = layout
            self._shown = {}
            self._strips.clear()
            self._label_columns(sorted_by)
            self.refresh()
        elif sorted_by != self._sorted_by:
            self._label_columns(sorted_by)
            self._refresh_header()
        changed: dict[str, list[str]] = {}
        shown: dict[str, dict[str, Text]] = {}
        for key in order:
            fresh = cells.get(key)
            old = self._shown.get(key)
            if fresh is None:
                if old is None:
                    raise KeyError(f"no cells for the new row {key!r}")
                shown[key] = old
                continue
            columns = changed_columns(old, fresh)
            if columns:
                changed[key] = columns
                self._strips.pop(key, None)
                self.cell_updates += len(columns)
            shown[key] = fresh
        for key in self._shown.keys() - shown.keys():
            self._strips.pop(key, None)
        self._shown = shown
        if list(order) != self._order:
            self._order = list(order)
            self._index = {key: index for index, key in enumerate(self._order)}
        self._set_virtual_size()
        self._restore_cursor(selected)
        if was_empty and self._order:
            # as DataTable did: a row appearing under the cursor is a highlight
            self.post_message(self.RowHighlighted(self._order[self.cursor_row]))
        if self._first_visible() != top:
            return  # scrolled: the whole view is repainted anyway
        # Repaint the screen lines that show another row than before, and the changed
        # cells of a row that kept its line (the 10-second step: its age only).
        after = self.visible_keys()
        for line in range(max(len(before), len(after))):
            old_key = before[line] if line < len(before) else None
            new_key = after[line] if line < len(after) else None
            if old_key != new_key:
                self._refresh_body_line(line)
            elif new_key is not None and new_key in changed:
                self._refresh_cells(line, changed[new_key])

    def patch(self, key: str, changes: dict[str, Text]) -> None:
        """Update a few cells of one row (the 10-second step's ages): only their span is
        repainted."""
        old = self._shown.get(key)
        if old is None:
            return
        columns = [c for c in changed_columns(old, changes) if c in old]
        if not columns:
            return
        for column in columns:
            old[column] = changes[column]
        self.cell_updates += len(columns)
        self._strips.pop(key, None)
        # off screen: drawn from the new cells when scrolled into view
        self._refresh_cells(self._index[key] - self._first_visible(), columns)

    def select_key(self, key: str) -> None:
        self.touched = True
        index = self._index.get(key)
        if index is not None:
            self.move_cursor(row=index)

    # -- the cursor -------------------------------------------------------------------

    def move_cursor(self, *, row: int, scroll: bool = True) -> None:
        if not self._order:
            self.cursor_row = 0
            return
        row = max(0, min(row, len(self._order) - 1))
        old = self.cursor_row
        if row != old:
            self.cursor_row = row
            self._refresh_row_at(old)
            self._refresh_row_at(row)
            self.post_message(self.RowHighlighted(self._order[row]))
        if scroll:
            self._scroll_cursor_into_view()

    def _scroll_cursor_into_view(self) -> None:
        top, height = self._first_visible(), self._body_height()
        if self.cursor_row < top:
            self.scroll_to(y=self.cursor_row, animate=False, immediate=True)
        elif height and self.cursor_row >= top + height:
            self.scroll_to(y=self.cursor_row - height + 1, animate=False, immediate=True)

    def _restore_cursor(self, selected: str | None) -> None:
        if not self._order:
            self.cursor_row = 0
        elif not self.touched:
            if self.cursor_row != 0:
                self.move_cursor(row=0)
        elif selected is not None and selected in self._index:
            index = self._index[selected]
            if index != self.cursor_row:
                # the same pipeline at another place: not a new highlight
                self.cursor_row = index
                self._scroll_cursor_into_view()
        else:
            self.move_cursor(row=min(self.cursor_row, len(self._order) - 1), scroll=False)

    def action_cursor_up(self) -> None:
        self.touched = True
        self.move_cursor(row=self.cursor_row - 1)

    def action_cursor_down(self) -> None:
        self.touched = True
        self.move_cursor(row=self.cursor_row + 1)

    def action_page_up(self) -> None:
        self.touched = True
        self.move_cursor(row=self.cursor_row - max(1, self._body_height()))

    def action_page_down(self) -> None:
        self.touched = True
        self.move_cursor(row=self.cursor_row + max(1, self._body_height()))

    def action_scroll_top(self) -> None:
        self.touched = True
        self.move_cursor(row=0)

    def action_scroll_bottom(self) -> None:
        self.touched = True
        self.move_cursor(row=len(self._order) - 1)

    def action_select_cursor(self) -> None:
        key = self.selected_key
        if key is not None:
            self.post_message(self.RowSelected(key))

    def on_mouse_down(self) -> None:
        self.touched = True

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None or offset.y < HEADER_LINES:
            return
        index = self._first_visible() + offset.y - HEADER_LINES
        if not 0 <= index < len(self._order):
            return
        self.touched = True
        if index == self.cursor_row:
            self.action_select_cursor()
        else:
            self.move_cursor(row=index)

    # -- scrolling ----------------------------------------------------------------------

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if round(old_value) != round(new_value):
            self.post_message(self.ViewMoved())

    def _first_visible(self) -> int:
        return max(0, round(self.scroll_y))

    def _body_height(self) -> int:
        return max(0, self.scrollable_content_region.height - HEADER_LINES)

    def _set_virtual_size(self) -> None:
        width = sum(width for _, width in self.column_widths())
        size = Size(width, len(self._order) + HEADER_LINES)
        if size != self.virtual_size:
            self.virtual_size = size

    # -- painting -------------------------------------------------------------------------

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips.clear()  # theme or focus: every row looks different

    def _refresh_region(self, region: Region) -> None:
        self.lines_refreshed += region.height
        self.refresh(region)

    def _refresh_header(self) -> None:
        self._refresh_region(Region(0, 0, self.size.width, HEADER_LINES))

    def _refresh_body_line(self, line: int) -> None:
        if 0 <= line < self._body_height():
            self._refresh_region(Region(0, HEADER_LINES + line, self.size.width, 1))

    def _refresh_cells(self, line: int, columns: Sequence[str]) -> None:
        """Repaint the span of a screen line from the first to the last of `columns`:
        Textual writes only that span, so an age that moved costs its own cell."""
        if not 0 <= line < self._body_height():
            return
        left: int | None = None
        right = x = -int(self.scroll_x)
        for column, width in self.column_widths():
            if column in columns:
                left = x if left is None else left
                right = x + width
            x += width
        if left is not None:
            self._refresh_region(Region(left, HEADER_LINES + line, right - left, 1))

    def _refresh_row_at(self, index: int) -> None:
        self._refresh_body_line(index - self._first_visible())

    def _label_columns(self, sorted_by: str) -> None:
        """The sorted column's title carries a ▼ (k9s-style) instead of a status-line word."""
        self._sorted_by = sorted_by
        layout = self._layout
        keys = layout.keys if layout is not None else ()
        self._labels = {
            key: TITLES.get(key, "") + (SORT_MARK if key == sorted_by else "") for key in keys
        }

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        base = self.rich_style
        if y < HEADER_LINES:
            header = self.get_component_rich_style("pipeline-table--header")
            labels = {key: Text(label) for key, label in self._labels.items()}
            line = self._line(labels, base + header, Style.null())
        else:
            index = self._first_visible() + y - HEADER_LINES
            if not 0 <= index < len(self._order):
                return Strip.blank(width, base)
            key = self._order[index]
            if index == self.cursor_row:
                cursor = self.get_component_rich_style("pipeline-table--cursor")
                # DataTable's default: the cursor's colour wins, the cell's background wins
                line = self._line(
                    self._shown[key], base + cursor, Style.from_color(color=cursor.color)
                )
            else:
                if base != self._strip_style:
                    self._strips.clear()
                    self._strip_style = base
                cached = self._strips.get(key)
                if cached is None:
                    cached = self._strips[key] = self._line(self._shown[key], base, Style.null())
                line = cached
        scroll_x = int(self.scroll_x)
        return line.crop(scroll_x, scroll_x + width).adjust_cell_length(width, base)

    def _line(self, cells: Mapping[str, Text], style: Style, post: Style) -> Strip:
        """One line of cells, each cut or padded to its column, in the columns' order.

        Each cell's style names its column (as DataTable's did): an SVG screenshot
        merges neighbouring segments of one style and stretches them to fit, which put
        a line's columns out of line with the header's."""
        console = self.app.console
        segments: list[Segment] = []
        for index, (key, width) in enumerate(self.column_widths()):
            text = cells.get(key)
            cell = Text(" " * width) if text is None else text.copy()
            cell.truncate(width, pad=True)
            # `Text.render` leaves the text's own style to its caller
            own = console.get_style(cell.style) if cell.style else Style.null()
            segments.extend(Segment.apply_style(cell.render(console), own + _column(index)))
        return Strip(
            Segment.apply_style(segments, style, post),
            sum(width for _, width in self.column_widths()),
        )
