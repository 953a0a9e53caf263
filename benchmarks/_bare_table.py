"""The baseline: a bare Textual app with a DataTable of N rows, a header and a footer.

    python benchmarks/_bare_table.py N

Same columns and cell kinds (rich Text) as the dashboard, no polling, no timers: what
Textual itself costs to keep such a screen open. The benchmarks run it next to the real
app in the same run and report the ratio.
"""

from __future__ import annotations

import sys
from typing import ClassVar

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Footer, Header

COLUMNS = ("", "status", "name", "id", "group", "since", "age", "last run", "message")


class BareTable(App[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "quit"),
        Binding("r", "bell", "run"),
    ]

    def __init__(self, rows: int) -> None:
        super().__init__()
        self.rows = rows

    def compose(self) -> ComposeResult:
        yield Header()
        yield DataTable(cursor_type="row", cell_padding=0)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for title in COLUMNS:
            table.add_column(Text(title), key=title or "mark")
        for i in range(self.rows):
            pid = 100_000 + i
            table.add_row(
                Text(" "),
                Text("✓ active", style="green"),
                Text(f"bench-{pid}"),
                Text(str(pid)),
                Text(""),
                Text("3h"),
                Text("12m"),
                Text("✓ 4m 12s"),
                Text(""),
                key=str(pid),
            )
        table.focus()


if __name__ == "__main__":
    BareTable(int(sys.argv[1]) if len(sys.argv) > 1 else 30).run()
