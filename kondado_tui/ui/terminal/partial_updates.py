"""Write only the changed span of a screen line, not the line up to it.

When part of a widget changes, Textual works out the exact span of each screen line to
repaint, but `ChopsUpdate.render_segments`, which turns that into bytes for the terminal,
crops each widget's line on the right only: it writes from the widget's left edge to the
end of the span. For the dashboard's 10-second step, which changes one age near the
right of ~18 rows, that was ~280 bytes a row for ~60 bytes of change (measured on a
pty, benchmarks/terminal_bytes.py): most of what an idle dashboard sends over SSH.

`install()` replaces that one method with the same loop that also skips the segments
that end before the span. It starts at a segment boundary, never inside a character
(a wide character is never cut in half), and otherwise writes exactly what Textual would.
It follows Textual 8.2's method, so `overrides.py` installs it only on the Textual
releases it was tested on and when `shape_problem()` finds the method and the update's
parts unchanged; tests/ui/test_partial_updates.py holds it to Textual's output on the same
screens. The proposal to do the same in Textual: docs/upstream/render-segments-left-crop.md.
"""

from __future__ import annotations

import inspect

from rich.console import Console
from rich.control import Control
from textual._compositor import ChopsUpdate
from textual.strip import Strip

_TEXTUALS = ChopsUpdate.render_segments


def _skip_before(strip: Strip, x: int, x1: int) -> tuple[Strip, int]:
    """`strip`, drawn from column `x`, without its whole segments that end at or before
    column `x1`; and the column it now starts at."""
    skipped = 0
    for segment in strip:
        width = segment.cell_length
        if x + skipped + width > x1:
            break
        skipped += width
    if not skipped:
        return strip, x
    return strip.crop(skipped), x + skipped


def render_segments(self: ChopsUpdate, console: Console) -> str:
    """`ChopsUpdate.render_segments`, cropped on the left as well as on the right."""
    sequences: list[str] = []
    append = sequences.append
    move_to = Control.move_to
    chops = self.chops
    chop_ends = self.chop_ends
    last_y = self.spans[-1][0]

    for y, x1, x2 in self.spans:
        line = chops[y]
        ends = chop_ends[y]
        for end, (x, strip) in zip(ends, line.items(), strict=False):
            if strip is None or x > x2 or end <= x1:
                continue
            if x < x1:
                strip, x = _skip_before(strip, x, x1)
            if end > x2:
                strip = strip.crop(0, x2 - x)
            append(move_to(x, y).segment.text)
            append(strip.render(console))

        if y != last_y:
            append("\n")

    return "".join(sequences)


def shape_problem() -> str | None:
    """What of Textual's partial update this replacement relies on is changed (None:
    all is as in Textual 8.2): the method's signature, the update's parts, `Strip.crop`."""
    takes = list(inspect.signature(_TEXTUALS).parameters)
    if takes != ["self", "console"]:
        return f"ChopsUpdate.render_segments takes ({', '.join(takes)})"
    parts = list(inspect.signature(ChopsUpdate.__init__).parameters)[1:]
    if parts != ["chops", "spans", "chop_ends"]:
        return f"ChopsUpdate is made of ({', '.join(parts)})"
    if not callable(getattr(Strip, "crop", None)):
        return "Strip has no crop()"
    return None


def install() -> None:
    """Use `render_segments` for every partial update of this process (idempotent)."""
    ChopsUpdate.render_segments = render_segments  # type: ignore[method-assign]


def uninstall() -> None:
    """Back to Textual's own (tests compare the two)."""
    ChopsUpdate.render_segments = _TEXTUALS  # type: ignore[method-assign]


__all__ = ["install", "render_segments", "shape_problem", "uninstall"]
