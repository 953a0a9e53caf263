"""The status line under the table: the per-severity counts on the left, the API's
health on the right ("12/18 req/min  asking 13/17…  ● connected").

It repaints a part only when its text changed, and asks for a layout pass only when a
part's width changed: a layout pass per update showed in the idle profile, and
"asking 41/1000…" changes with every answer but keeps its width. The counts get the
width the health line leaves, in the wordiest form that fits (`counts_text`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Static

from kondado_tui.core.models import Severity
from kondado_tui.ui.view.health_text import counts_text
from kondado_tui.ui.view.palette import Palette

PADDING = 4  # 1 cell each side of both parts, and the gap of 2 between them


def resized(before: Text | None, after: Text) -> bool:
    """Whether showing `after` where `before` was needs a layout pass (a width change)."""
    return before is None or before.cell_len != after.cell_len


class StatusBar(Horizontal):
    DEFAULT_CSS = Path(__file__).with_suffix(".tcss").read_text(encoding="utf-8")

    def __init__(self) -> None:
        super().__init__(id="statusbar")
        self._health: Text | None = None  # what each part shows now
        self._counts: Text | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="counts", markup=False)
        yield Static(id="health", markup=False)

    def show(
        self,
        health: Text,
        counts: Callable[[], dict[Severity, int]],
        palette: Palette,
        *,
        recount: bool = True,
    ) -> None:
        """Show the `health` line and the `counts()` in the room it leaves.
        `recount=False`: the counts are known unchanged (the tick), so they are only
        laid out again when the health line's width changed."""
        width_changed = resized(self._health, health)
        if health != self._health:
            self.query_one("#health", Static).update(health, layout=width_changed)
            self._health = health
        if not recount and not width_changed:
            return
        # the bar spans the screen, whose width is known before this bar is laid out
        room = self.screen.size.width - health.cell_len - PADDING
        counted = counts_text(counts(), palette, width=room)
        if counted != self._counts:
            self.query_one("#counts", Static).update(counted, layout=resized(self._counts, counted))
            self._counts = counted


__all__ = ["StatusBar", "resized"]
