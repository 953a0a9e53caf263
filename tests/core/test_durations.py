"""Durations typed by people and shown to them."""

from __future__ import annotations

import pytest

from kondado_tui.core.durations import DurationError, format_age, format_duration, parse_duration


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
        ("-1h30m", "negative durations are not allowed; use one like 90s, 30m"),
        ("-.5h", "negative durations are not allowed"),
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
        (0, "0s"),
        (45.9, "45s"),
        (59.99, "59s"),
        (60, "1m"),
        (12 * 60 + 59, "12m"),
        (3599, "59m"),
        (3600, "1h"),
        (3 * 3600 + 3599, "3h"),
        (86400, "1d"),
        (2 * 86400 + 7200, "2d"),
        (-5, "0s"),
        (float("nan"), "0s"),
        (float("inf"), "0s"),
    ],
)
def test_format_age(seconds: float, age: str) -> None:
    assert format_age(seconds) == age


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (45.4, "45s"),
        (59.6, "1m 00s"),
        (725, "12m 05s"),
        (3 * 3600 + 7 * 60, "3h 07m"),
        (2 * 86400 + 4 * 3600 + 59, "2d 04h"),
        (-1, "0s"),
    ],
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


# Pinned at every unit boundary before age and duration came to share one unit ladder.
@pytest.mark.parametrize(
    ("seconds", "age", "duration"),
    [
        (0.49, "0s", "0s"),
        (0.5, "0s", "0s"),
        (1.5, "1s", "2s"),
        (59.4, "59s", "59s"),
        (59.5, "59s", "1m 00s"),
        (60.5, "1m", "1m 00s"),
        (61, "1m", "1m 01s"),
        (3599.4, "59m", "59m 59s"),
        (3599.5, "59m", "1h 00m"),
        (3660, "1h", "1h 01m"),
        (86399, "23h", "23h 59m"),
        (86399.6, "23h", "1d 00h"),
        (90061, "1d", "1d 01h"),
        (14 * 86400, "14d", "14d 00h"),
        (10**7, "115d", "115d 17h"),
        (float("nan"), "0s", "0s"),
        (float("inf"), "0s", "0s"),
        (float("-inf"), "0s", "0s"),
    ],
)
def test_age_and_duration_at_the_unit_boundaries(seconds: float, age: str, duration: str) -> None:
    assert (format_age(seconds), format_duration(seconds)) == (age, duration)


def test_a_duration_leads_with_the_age_of_its_rounded_seconds() -> None:
    for seconds in [*range(0, 200_000, 13), *range(86_000, 90_000)]:
        for value in (seconds, seconds + 0.5, seconds + 0.51):
            assert format_duration(value).split()[0] == format_age(round(value))
