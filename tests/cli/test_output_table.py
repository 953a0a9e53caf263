"""Plain-text tables line up in a terminal, whatever the width of the characters.

Widths are checked against Rich's `cell_len`, the measure the dashboard draws with, not
against `display_width` itself: the CLI's tables and the dashboard must count alike.
"""

from __future__ import annotations

import pytest
from rich.cells import cell_len

from kondado_tui.cli.commands import history, status
from kondado_tui.cli.output import format_table
from kondado_tui.core.guards.sanitize import display_width, pad, truncate
from kondado_tui.core.history.timeline import Transition
from kondado_tui.core.models import Observation, PipelineStatus

# What a pipeline name or a raw_msg holds in real life, and the cells a terminal gives it.
GLYPHS = {
    "thumbs up, skin tone": ("👍🏽", 2),  # the example: counted 4 before
    "ZWJ family": ("👨\u200d👩\u200d👧", 2),
    "ZWJ with skin tones": ("👩🏾\u200d💻", 2),
    "flag": ("🇧🇷", 2),
    "two flags": ("🇧🇷🇵🇹", 4),
    "heart with VS16": ("❤️", 2),
    "no entry": ("⛔", 2),
    "CJK": ("日本語", 6),
    "Hangul": ("한국", 4),
    "combining acute": ("e\u0301", 1),
    "combining stack": ("a\u0301\u0302\u0323", 1),
    "plain": ("orders", 6),
    "status glyph": ("● ok", 4),
}
# The same, as names in a table whose STATUS column shows "●" and "active".
NAMES = [text for name, (text, _) in GLYPHS.items() if name != "status glyph"]


@pytest.mark.parametrize("name", sorted(GLYPHS))
def test_display_width_is_the_dashboards_width(name: str) -> None:
    text, cells = GLYPHS[name]
    assert display_width(text) == cells
    assert cell_len(text) == cells  # what Rich (the dashboard) draws it with


def test_control_characters_are_measured_as_cleaned() -> None:
    # wcwidth has no width for them (-1); clean() shows each as one visible symbol
    assert display_width("a\x85b") == 3
    assert display_width("a\x00b\x07") == 4
    assert display_width("\x1b[2Jok") == 2  # the sequence is removed
    assert display_width("") == 0


def test_pad_fills_to_cells() -> None:
    assert pad("⛔", 4) == "⛔  "
    assert pad("👍🏽", 4) == "👍🏽  "
    assert pad("toolong", 3) == "toolong"


@pytest.mark.parametrize("name", sorted(GLYPHS))
def test_truncate_keeps_whole_graphemes(name: str) -> None:
    text = GLYPHS[name][0] * 5
    for width in range(1, display_width(text) + 2):
        cut = truncate(text, width)
        assert cell_len(cut) <= width
        if cut != text:
            assert cut.endswith("…")
            body = cut.removesuffix("…")
            assert text.startswith(body)
            assert cell_len(body) + 1 > width - cell_len(GLYPHS[name][0])  # no room wasted


def _column_starts(table: str, marker: str) -> set[int]:
    return {cell_len(line[: line.index(marker)]) for line in table.splitlines()[1:]}


def test_columns_after_wide_characters_line_up() -> None:
    rows = [[str(i), f"name {text} x", "§ next"] for i, (text, _) in enumerate(GLYPHS.values())]
    table = format_table(["ID", "NAME", "STATUS"], rows)
    assert len(_column_starts(table, "§")) == 1, table
    header_start = cell_len(table.splitlines()[0][: table.splitlines()[0].index("STATUS")])
    assert _column_starts(table, "§") == {header_start}, table


def test_the_last_column_is_cut_by_cells() -> None:
    rows = [["1", "日本語" * 40], ["2", "👍🏽" * 50], ["3", "plain " * 30]]
    lines = format_table(["ID", "MESSAGE"], rows, max_last=20).splitlines()
    start = lines[0].index("MESSAGE")
    for line in lines[1:]:
        assert line[start - 1] == " " and line[start] != " ", line
        assert cell_len(line[start:]) <= 20, line
        assert line.endswith("…"), line


def test_status_table_lines_up_with_emoji_names_and_messages() -> None:
    rows = [
        status.Row(
            pid,
            f"{text} orders",
            Observation(PipelineStatus(pid, "active", raw_msg=f"{text} broke"), 1000.0),
        )
        for pid, text in enumerate(NAMES, start=2040)
    ]
    table = status._as_table(rows, now=1005.0)
    assert len(_column_starts(table, "●")) == 1, table  # the STATUS column
    assert len(_column_starts(table, " broke")) > 1  # (the messages differ in width)
    ages = {cell_len(line[: line.index("5s")]) for line in table.splitlines()[1:]}
    assert len(ages) == 1, table


def test_history_table_lines_up_with_emoji_names() -> None:
    names = {pid: f"{text} orders" for pid, text in enumerate(NAMES, start=2040)}
    transitions = [
        Transition(pid, 1000.0 + pid, "active", "error_building_tables", f"{name} failed")
        for pid, name in names.items()
    ]
    table = history._as_table([history.Entry(t) for t in transitions], names)
    assert len(_column_starts(table, "active")) == 1, table  # the FROM column
    assert len(_column_starts(table, "✖")) == 1, table  # the TO column
