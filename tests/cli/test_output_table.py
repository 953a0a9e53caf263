"""Plain-text tables line up in a terminal, whatever the width of the characters."""

from __future__ import annotations

from kondado_tui.cli.output import format_table
from kondado_tui.core.guards.sanitize import display_width, pad


def test_display_width_counts_terminal_cells() -> None:
    assert display_width("active") == 6
    assert display_width("⛔ blocked") == 10  # the no-entry sign takes two cells
    assert display_width("日本語") == 6
    assert display_width("e\u0301") == 1  # a combining accent takes none
    assert pad("⛔", 4) == "⛔  "


def test_columns_after_wide_characters_line_up() -> None:
    table = format_table(
        ["ID", "STATUS", "AGE"],
        [
            ["104", "⛔ too many consecutive failed builds blocked", "7s"],
            ["105", "? paused by billing", "5s"],
            ["106", "日本語", "1s"],
        ],
    )
    lines = table.splitlines()
    starts = {display_width(line[: line.rindex(" ") + 1]) for line in lines}
    assert len(starts) == 1, table  # the last column starts in one terminal column
