"""Lock-outs nobody here explains: back off, come back gradually, remember where it hurt.

Other machines behind the same NAT address and other tools on the same key (an Airflow
DAG calling run) spend the API's budget where no kondado-tui can see it. When a lock-out
comes although our own records were within the documented limits, someone else spent
the rest, and will again: so the allowed rate is lowered, then raised again slowly.

Plain AIMD (halve on a lock-out, +1 a step after) probes into the next lock-out over
and over: a sawtooth with a 60 s blind spell every few minutes. So this one remembers
the rate the lock-out came at, climbs back only to `HOLD` of it, and goes above that only
rarely (`PROBE_AFTER` without a lock-out, then one more request a minute; a probe that
fails makes the next one wait twice as long). A dashboard asking 16 a minute next to a
tool asking 8 on the same key settles after one or two lock-outs, then at most one
failed probe in an ever longer while.

The state is a small immutable value: the broker sends it to every process with the
other limits, so a broker that takes over starts from the lowest one it is given.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable
from dataclasses import dataclass

DECREASE = 0.5
"""On a lock-out below the remembered level: the rate is multiplied by this..."""
HOLD = 0.8
"""... and climbs back to this share of the rate the lock-out came at, no further."""
STEP = 120.0
"""One more request a minute after each this many seconds without a lock-out."""
STEP_JITTER = 0.25
"""The climb starts up to this share of a `STEP` late: processes never climb in step."""
PROBE_AFTER = 1800.0
"""Held this long without a lock-out, the rate tries one more request a minute."""
PROBE_MAX = 4 * 3600.0
MIN_RATE = 2
"""Never lower than this: a monitor that asks nothing is no monitor."""
EXTRA_BACKOFF = (20.0, 40.0)
"""Seconds of silence added to the API's lock-out (random, so processes and other
machines behind the same address do not all resume at the same instant)."""


@dataclass(frozen=True)
class Throttle:
    """The allowed rate after lock-outs nobody here explains. `Throttle()`: none yet."""

    rate: int | None = None  # allowed per minute just after the last lock-out
    hold: int | None = None  # climb back to this, no further (until a probe)
    since: float = 0.0  # when `rate` was set (the climb counts from here)
    probe_every: float = PROBE_AFTER

    @property
    def active(self) -> bool:
        return self.rate is not None

    def allowed(self, limit: int, now: float) -> int:
        """Requests a minute allowed at `now`, never above `limit` (the configured one)."""
        if self.rate is None or self.hold is None:
            return limit
        elapsed = max(0.0, now - self.since)
        climbed = self.rate + int(elapsed // STEP)
        ceiling = self.hold + int(elapsed // self.probe_every)
        return max(min(MIN_RATE, limit), min(limit, climbed, ceiling))

    def lowered(self, limit: int, used: int | None, now: float, rng: random.Random) -> Throttle:
        """After an unexplained lock-out: `used` requests went out in the last minute
        (None: not known over a whole minute, e.g. just started: the allowed rate then)."""
        current = self.allowed(limit, now)
        start = now + rng.uniform(0.0, STEP * STEP_JITTER)
        if self.hold is not None and current > self.hold:
            # A probe above the level held without trouble for `probe_every`: that level
            # was right. Back to it at once, and probe half as often from now on.
            return Throttle(self.hold, self.hold, start, min(PROBE_MAX, self.probe_every * 2))
        came_at = max(MIN_RATE, min(current, used) if used else current)
        hold = max(MIN_RATE, min(limit - 1, math.floor(came_at * HOLD)))
        rate = max(MIN_RATE, min(hold, math.floor(came_at * DECREASE)))
        return Throttle(rate, hold, start, PROBE_AFTER)

    def stricter(self, other: Throttle, limit: int, now: float) -> Throttle:
        """The one of the two that allows less now (merging what several processes knew)."""
        return other if other.allowed(limit, now) < self.allowed(limit, now) else self


def used_last_minute(stamps: Iterable[float], now: float) -> int | None:
    """Requests in the minute before `now`; None when the records do not cover a
    whole minute (a rate measured over seconds says nothing)."""
    times = [t for t in stamps if t <= now]
    if not times or min(times) > now - 50.0:
        return None
    return sum(1 for t in times if t > now - 60.0)


def extra_backoff(rng: random.Random) -> float:
    """Silence beyond the API's lock-out after one nobody here explains."""
    return rng.uniform(*EXTRA_BACKOFF)


__all__ = ["MIN_RATE", "PROBE_AFTER", "STEP", "Throttle", "extra_backoff", "used_last_minute"]
