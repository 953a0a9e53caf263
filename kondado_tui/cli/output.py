"""Plain-text output shared by the subcommands: aligned tables, progress, confirmation."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TextIO

from kondado_tui.core.guards.sanitize import clean, display_width, pad, truncate


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]], max_last: int = 80) -> str:
    """Left-aligned columns in terminal cells; the last column (free text) is cut to
    `max_last` cells."""
    cells = [[clean(c, keep_newlines=False) for c in row] for row in rows]
    for row in cells:
        if row:
            row[-1] = truncate(row[-1], max_last)
    widths = [display_width(h) for h in headers]
    for row in cells:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], display_width(cell))
    lines = ["  ".join(pad(h, widths[i]) for i, h in enumerate(headers)).rstrip()]
    for row in cells:
        lines.append("  ".join(pad(c, widths[i]) for i, c in enumerate(row)).rstrip())
    return "\n".join(lines)


def iso_utc(when: float) -> str:
    """The one timestamp format of every JSON output: ISO 8601 in UTC to the second, with
    `Z` (`2026-12-05T14:03:07Z`): sorts as text, and every language and `date -d` reads it."""
    return datetime.fromtimestamp(when, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Progress:
    """A one-line progress report on stderr, only when stderr is a terminal."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream or sys.stderr
        self._active = self._stream.isatty()
        self._width = 0

    def update(self, text: str) -> None:
        if not self._active:
            return
        line = text[:100]
        self._stream.write("\r" + line.ljust(self._width))
        self._stream.flush()
        self._width = len(line)

    def done(self) -> None:
        if self._active and self._width:
            self._stream.write("\r" + " " * self._width + "\r")
            self._stream.flush()
            self._width = 0


def confirm(question: str, *, assume_yes: bool) -> bool | None:
    """Ask on a terminal. Returns None when there is nobody to ask (no tty, no --yes)."""
    if assume_yes:
        return True
    if not sys.stdin.isatty():
        return None
    try:
        answer = input(f"{question} [y/N] ")
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes")
