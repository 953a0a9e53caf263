"""Durations as people type and read them: `90s`, `30m`, `24h`, `7d`, `1h30m`.

One parser for every option that takes a duration (`history --since`, `status --max-age`)
and one formatter for every "age" column, so the CLI and the TUI speak alike.
"""

from __future__ import annotations

import math
import re

# One table of units: the parser reads all of them; ages and run times are shown in the
# ones from days down (largest first), so "14d" rather than "2w".
_UNITS: dict[str, int] = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}
_SHOWN: tuple[tuple[str, int], ...] = tuple((u, n) for u, n in _UNITS.items() if u != "w")
_PART = re.compile(r"(\d+(?:\.\d+)?|\.\d+)([" + "".join(_UNITS) + "])")
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
        if re.match(r"-[\d.]", given):
            hint = f"negative durations are not allowed; use one like {EXAMPLES}"
        elif re.fullmatch(r"\d+(?:\.\d+)?", given):
            hint = f"add a unit, e.g. {given}s, {given}m or {given}h"
        else:
            hint = f"use a number and a unit (s, m, h, d, w), e.g. {EXAMPLES}"
        raise DurationError(f"cannot read duration {text.strip()!r}: {hint}")
    if total <= 0 or not math.isfinite(total):
        raise DurationError(f"duration {text.strip()!r} must be longer than zero")
    return total


def format_age(seconds: float) -> str:
    """The largest whole unit, for narrow columns: `45s`, `12m`, `3h`, `2d` (rounded down)."""
    whole = int(_not_negative(seconds))
    unit, size = _largest_unit(whole)
    return f"{whole // size}{unit}"


def format_duration(seconds: float) -> str:
    """Two units where they matter, for run times: `45s`, `12m 05s`, `3h 07m`, `2d 04h`."""
    whole = round(_not_negative(seconds))
    unit, size = _largest_unit(whole)
    if size == 1:
        return f"{whole}s"
    next_unit, next_size = _SHOWN[_SHOWN.index((unit, size)) + 1]
    return f"{whole // size}{unit} {whole % size // next_size:02d}{next_unit}"


def _largest_unit(whole: int) -> tuple[str, int]:
    return next((unit, size) for unit, size in _SHOWN if whole >= size or size == 1)


def _not_negative(seconds: float) -> float:
    return seconds if math.isfinite(seconds) and seconds > 0 else 0.0
