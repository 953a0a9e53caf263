"""The `?` screen: every key, and what the colours and marks in the table mean."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from kondado_tui.models import KNOWN_STATUSES, PENDING_KIND
from kondado_tui.ui.columns import CHANGED_GLYPH, MARKED_GLYPH, STALE_MARKER

KEYS: tuple[tuple[str, str], ...] = (
    ("↑ ↓  j k  home end", "move (the mouse works too)"),
    ("enter", "details: full message, times, history"),
    ("r", "run the selected pipeline (or every marked one), after asking"),
    ("space", "mark / unmark a row for a batch run"),
    ("d", "duplicate the selected pipeline"),
    ("/", "filter by name, id, status or group (esc clears)"),
    ("s", "cycle the sort: severity, name, id, age"),
    ("f", "ask Kondado about the selected pipeline now"),
    ("p", "pause / resume polling"),
    ("c", "copy the pipeline's app URL (OSC 52) and show it"),
    ("a", "add a pipeline by id or app URL"),
    ("x", "stop monitoring the selected pipeline (asks first)"),
    ("u", "clear every “changed” mark"),
    ("ctrl+p", "command palette"),
    ("?", "this help"),
    ("q", "quit"),
)


def help_text() -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    grid.add_row(Text("Keys", style="bold underline"), "")
    for key, what in KEYS:
        grid.add_row(Text(key), Text(what))
    grid.add_row("", "")
    grid.add_row(Text("Statuses", style="bold underline"), "")
    for kind in (*KNOWN_STATUSES.values(), PENDING_KIND):
        grid.add_row(Text(f"{kind.glyph} {kind.label}"), Text(kind.meaning))
    grid.add_row("", "")
    grid.add_row(Text("Colours", style="bold underline"), "")
    for label, what in (
        ("green", "ok: idle and enabled"),
        ("blue", "busy: running, scheduled, building tables"),
        ("yellow", "an ok status that carries a message from Kondado"),
        ("red", "error statuses; reversed and bold: blocked"),
        ("dim", "disabled, or not observed yet"),
    ):
        grid.add_row(Text(label), Text(what))
    grid.add_row("", "")
    grid.add_row(Text("Marks", style="bold underline"), "")
    grid.add_row(Text(MARKED_GLYPH), Text("marked for a batch run (space)"))
    grid.add_row(Text(CHANGED_GLYPH), Text("changed since you last looked at the row"))
    grid.add_row(Text("age" + STALE_MARKER),
                 Text("stale: older than the poller promised; the row is dimmed"))
    grid.add_row(Text("since"), Text("how long the pipeline has been in this status"))
    grid.add_row(Text("age"), Text("how old our last observation is"))
    return grid


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: auto; max-width: 90%; height: auto; max-height: 90%;
        border: round $primary; background: $surface; padding: 0 1;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,question_mark", "dismiss", "close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll() as scroll:
            scroll.border_title = "kondado-tui help"
            scroll.border_subtitle = "esc: close"
            yield Static(help_text(), markup=False)
