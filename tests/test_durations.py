"""Durations typed by people and shown to them."""

from __future__ import annotations

import pytest

from kondado_tui.durations import DurationError, format_age, format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90.0),
        ("30m", 1800.0),
        ("24h", 86400.0),
        ("7d", 604800.0),
        ("2w", 1209600.0),
        ("1h30m", 5400.0),
        ("1h 30m", 5400.0),
        (" 1.5H ", 5400.0),
        (".5m", 30.0),
    ],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("30", "add a unit, e.g. 30s, 30m or 30h"),
        ("", "empty duration"),
        ("  ", "empty duration"),
        ("abc", "cannot read duration 'abc'"),
        ("10x", "use a number and a unit"),
        ("h", "cannot read duration"),
        ("5m10", "cannot read duration '5m10'"),
        ("-5m", "cannot read duration '-5m'"),
        ("0s", "must be longer than zero"),
        ("0m0s", "must be longer than zero"),
    ],
)
def test_parse_duration_rejects_with_a_hint(text: str, hint: str) -> None:
    with pytest.raises(DurationError) as caught:
        parse_duration(text)
    assert hint in str(caught.value)
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    ("seconds", "age"),
    [
        (0, "0s"), (45.9, "45s"), (59.99, "59s"), (60, "1m"), (12 * 60 + 59, "12m"),
        (3599, "59m"), (3600, "1h"), (3 * 3600 + 3599, "3h"), (86400, "1d"),
        (2 * 86400 + 7200, "2d"), (-5, "0s"), (float("nan"), "0s"), (float("inf"), "0s"),
    ],
)
def test_format_age(seconds: float, age: str) -> None:
    assert format_age(seconds) == age


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"), (45.4, "45s"), (59.6, "1m 00s"), (725, "12m 05s"), (3 * 3600 + 7 * 60, "3h 07m"),
        (2 * 86400 + 4 * 3600 + 59, "2d 04h"), (-1, "0s"),
    ],
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text
