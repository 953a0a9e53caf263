"""A partial update writes the changed span, and the terminal ends up the same.

`ui/partial_updates.py` replaces Textual's `ChopsUpdate.render_segments`, which wrote each
widget's line from its left edge. These tests render the same updates both ways, play
the bytes onto a model terminal, and hold ours to the same cells inside every span,
nothing outside the segments that overlap it, and fewer bytes.
"""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from textual._compositor import ChopsUpdate
from textual.strip import Strip

from kondado_tui.ui.terminal import partial_updates
from kondado_tui.ui.terminal.partial_updates import render_segments

CONTROL = re.compile(r"\x1b\[(\d+);(\d+)H|\x1b\[[0-9;]*m|\n")
WIDTH = 40


def _console() -> Console:
    return Console(
        file=io.StringIO(),
        force_terminal=True,
        color_system="truecolor",
        width=WIDTH,
        legacy_windows=False,
    )


def _strip(*parts: tuple[str, str]) -> Strip:
    return Strip([Segment(text, Style.parse(style)) for text, style in parts])


def _play(output: str, height: int) -> tuple[list[list[str]], set[tuple[int, int]]]:
    """The screen after `output` (cells start as '.'), and the cells it wrote."""
    screen = [["."] * WIDTH for _ in range(height)]
    written: set[tuple[int, int]] = set()
    x = y = 0
    pos = 0
    for match in CONTROL.finditer(output + "\x1b[0m"):
        for char in output[pos : match.start()]:
            for _ in range(2 if char in "日本" else 1):  # a wide character fills two cells
                screen[y][x] = char
                written.add((x, y))
                x += 1
        if match.group(1):
            y, x = int(match.group(1)) - 1, int(match.group(2)) - 1
        pos = match.end()
    return screen, written


ROW = _strip(
    ("   ", "bold"),
    ("● active  ", "green"),
    ("bench-22199 ", ""),
    ("≥1d  ", "red"),
    ("30s    ", "blue"),
    ("message", "italic"),
)
WIDE = _strip(("ab", ""), ("日本", "red"), ("cdef", "blue"))


def _update(
    line: Strip, spans: list[tuple[int, int, int]], cuts: tuple[int, ...] = (0, WIDTH)
) -> ChopsUpdate:
    """One screen of `len(spans)` lines, each showing `line` cut at `cuts` (widgets)."""
    height = max(y for y, _, _ in spans) + 1
    chops = []
    for _ in range(height):
        pieces = line.divide(list(cuts[1:]))
        chops.append(dict(zip(cuts[:-1], pieces, strict=False)))
    return ChopsUpdate(chops, spans, [list(cuts[1:])] * height)


@pytest.mark.parametrize(
    ("line", "spans", "cuts"),
    [
        (ROW, [(0, 30, 37)], (0, WIDTH)),  # the age only: the 10-second step
        (ROW, [(0, 3, 37), (2, 30, 37)], (0, WIDTH)),  # a status change; an age two lines down
        (ROW, [(0, 0, WIDTH)], (0, WIDTH)),  # a whole line
        (ROW, [(0, 15, 20)], (0, 10, 25, WIDTH)),  # three widgets side by side
        (ROW, [(1, 5, 8)], (0, WIDTH)),  # inside one segment: from its start
        (WIDE, [(0, 3, 6)], (0, WIDTH)),  # from inside a wide character
    ],
)
def test_the_same_cells_in_every_span_and_fewer_bytes(
    line: Strip,
    spans: list[tuple[int, int, int]],
    cuts: tuple[int, ...],
) -> None:
    update = _update(line, spans, cuts)
    theirs = partial_updates._TEXTUALS(update, _console())
    ours = render_segments(update, _console())
    height = max(y for y, _, _ in spans) + 1
    screen_theirs, _ = _play(theirs, height)
    screen_ours, written = _play(ours, height)
    for y, x1, x2 in spans:
        assert screen_ours[y][x1:x2] == screen_theirs[y][x1:x2]
    assert len(ours) <= len(theirs)
    # ours starts no earlier than the segment holding the span's first cell
    for x, y in written:
        span = [(x1, x2) for sy, x1, x2 in spans if sy == y]
        assert span, f"wrote on line {y}, outside every span"
        start = _segment_start(line, span[0][0], cuts)
        assert start <= x < span[0][1], f"wrote column {x} for span {span[0]}"


def _segment_start(line: Strip, x1: int, cuts: tuple[int, ...]) -> int:
    """Where the segment holding column `x1` begins (segments never cross a cut)."""
    cut = max(c for c in cuts if c <= x1)
    x = 0
    for segment in line.divide(list(cuts[1:]))[cuts.index(cut)]:
        if cut + x + segment.cell_length > x1:
            return cut + x
        x += segment.cell_length
    return x1


def test_the_ten_second_step_costs_a_fraction_of_the_line() -> None:
    update = _update(ROW, [(y, 30, 37) for y in range(18)])
    theirs = partial_updates._TEXTUALS(update, _console())
    ours = render_segments(update, _console())
    assert len(ours) * 2 < len(theirs), (len(ours), len(theirs))


def test_install_and_uninstall() -> None:
    found = ChopsUpdate.render_segments
    try:
        partial_updates.install()
        partial_updates.install()
        assert ChopsUpdate.render_segments is render_segments
        partial_updates.uninstall()
        assert ChopsUpdate.render_segments is partial_updates._TEXTUALS
    finally:
        ChopsUpdate.render_segments = found  # type: ignore[method-assign]  # as it was
