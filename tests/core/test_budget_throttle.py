"""Lock-outs nobody here explains: the throttle's rate over simulated hours (pure)."""

from __future__ import annotations

import random

import pytest

from kondado_tui.core.budget.throttle import (
    MIN_RATE,
    PROBE_AFTER,
    STEP,
    Throttle,
    extra_backoff,
)

START = 1_790_000_000.0


def test_no_lockout_no_limit() -> None:
    assert Throttle().allowed(18, START) == 18
    assert not Throttle().active


def test_a_lockout_halves_then_climbs_to_a_hold_below_where_it_came() -> None:
    rng = random.Random(1)
    t = Throttle().lowered(18, used=16, now=START, rng=rng)
    assert t.rate == 8 and t.hold == 12  # half of 16; 80 % of 16
    assert t.allowed(18, START) == 8
    late = t.since + 10 * STEP
    assert t.allowed(18, late) == 12  # climbed, held
    assert t.allowed(18, t.since + PROBE_AFTER - 1) == 12
    assert t.allowed(18, t.since + PROBE_AFTER + 1) == 13  # a rare probe above the hold


def test_a_failed_probe_returns_to_the_hold_and_probes_half_as_often() -> None:
    rng = random.Random(2)
    t = Throttle().lowered(18, used=16, now=START, rng=rng)
    probe_at = t.since + PROBE_AFTER + 10
    assert t.allowed(18, probe_at) == 13
    again = t.lowered(18, used=13, now=probe_at, rng=rng)
    assert again.rate == again.hold == 12  # not halved: 12 held for half an hour
    assert again.probe_every == 2 * PROBE_AFTER
    assert again.allowed(18, again.since + PROBE_AFTER + 10) == 12


def test_used_below_allowed_is_where_the_lockout_came() -> None:
    t = Throttle().lowered(18, used=6, now=START, rng=random.Random(0))
    assert t.hold == 4 and t.rate == 3


def test_never_below_the_minimum_nor_above_the_limit() -> None:
    rng = random.Random(3)
    t = Throttle()
    for _ in range(10):
        t = t.lowered(18, used=1, now=START, rng=rng)
    assert t.allowed(18, START) == MIN_RATE
    assert t.allowed(3, START + 100 * STEP) <= 3
    assert t.allowed(1, START) == 1


def test_the_climb_starts_at_a_random_moment() -> None:
    starts = {Throttle().lowered(18, 16, START, random.Random(seed)).since for seed in range(20)}
    assert len(starts) > 10
    assert all(START <= s <= START + STEP for s in starts)


def test_extra_backoff_is_random_and_over_twenty_seconds() -> None:
    waits = [extra_backoff(random.Random(s)) for s in range(50)]
    assert min(waits) >= 20.0 and max(waits) <= 40.0
    assert len(set(waits)) == 50


def test_stricter_keeps_the_lower_rate() -> None:
    low = Throttle().lowered(18, 16, START, random.Random(0))
    assert Throttle().stricter(low, 18, START) is low
    assert low.stricter(Throttle(), 18, START) is low


@pytest.mark.parametrize("outside", [4, 8, 12])
def test_a_stranger_on_the_key_costs_a_couple_of_lockouts_then_rarely_any(outside: int) -> None:
    """A model of the API's minute: our allowed rate plus a stranger's over the limit
    locks us out. Four simulated hours, one check a minute."""
    rng = random.Random(outside)
    t = Throttle()
    limit, api = 16, 20
    lockouts: list[float] = []
    now = START
    quiet_until = now
    while now < START + 4 * 3600:
        if now >= quiet_until:
            ours = t.allowed(limit, now)
            if ours + outside > api:
                lockouts.append(now - START)
                t = t.lowered(limit, ours, now, rng)
                quiet_until = now + 60 + extra_backoff(rng)
        now += 60.0
    first_half_hour = [x for x in lockouts if x < 1800]
    assert len(first_half_hour) <= 2
    later = [x for x in lockouts if x >= 1800]
    assert len(later) <= 3  # failed probes, each twice as far apart as the one before
    assert t.allowed(limit, now) >= min(limit, api - outside) - 2  # not needlessly timid
