"""Durations as people type and read them: `90s`, `30m`, `24h`, `7d`, `1h30m`.

One parser for every option that takes a duration (`history --since`, `status --max-age`)
and one formatter for every "age" column, so the CLI and the TUI speak alike.
"""

from __future__ import annotations

import math
import re

_UNITS: dict[str, float] = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_PART = re.compile(r"(\d+(?:\.\d+)?|\.\d+)([smhdw])")
EXAMPLES = "90s, 30m, 24h, 7d or 1h30m"


class DurationError(ValueError):
    """A duration that cannot be read; the message says what was given and what works."""


def parse_duration(text: str) -> float:
    """Seconds in `text`: numbers with a unit (s, m, h, d, w), possibly several (`1h30m`).

    A bare number is not accepted: `30` could mean seconds or minutes, so we ask.
    """
    given = text.strip().lower().replace(" ", "")
    if not given:
        raise DurationError(f"empty duration: use a number and a unit, e.g. {EXAMPLES}")
    total = 0.0
    position = 0
    for match in _PART.finditer(given):
        if match.start() != position:
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        position = match.end()
    if position != len(given):
        if re.fullmatch(r"\d+(?:\.\d+)?", given):
            hint = f"add a unit, e.g. {given}s, {given}m or {given}h"
        else:
            hint = f"use a number and a unit (s, m, h, d, w), e.g. {EXAMPLES}"
        raise DurationError(f"cannot read duration {text.strip()!r}: {hint}")
    if total <= 0 or not math.isfinite(total):
        raise DurationError(f"duration {text.strip()!r} must be longer than zero")
    return total


def format_age(seconds: float) -> str:
    """The largest whole unit, for narrow columns: `45s`, `12m`, `3h`, `2d` (rounded down)."""
    if not math.isfinite(seconds) or seconds < 0:
        seconds = 0.0
    whole = int(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m"
    if whole < 86400:
        return f"{whole // 3600}h"
    return f"{whole // 86400}d"


def format_duration(seconds: float) -> str:
    """Two units where they matter, for run times: `45s`, `12m 05s`, `3h 07m`, `2d 04h`."""
    if not math.isfinite(seconds) or seconds < 0:
        seconds = 0.0
    whole = round(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m {whole % 60:02d}s"
    if whole < 86400:
        return f"{whole // 3600}h {whole % 3600 // 60:02d}m"
    return f"{whole // 86400}d {whole % 86400 // 3600:02d}h"
