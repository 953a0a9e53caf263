"""Someone else spending the budget: another tool on the same key, or another machine
behind the same NAT address. No HTTP: arrivals are injected into the rate limiter, in
time order, whenever the server looks (a request arrives, the log is read), so they
work in virtual time as in real time.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

OUTSIDE_IP = "198.51.100.7"
"""Where another tool on the same key runs (TEST-NET-2: not this machine)."""
NEIGHBOUR_KEY = "neighbour-key"
"""The key a NAT neighbour uses: not one of ours, so it counts on the IP only."""


@dataclass
class OutsideConsumer:
    """`per_minute` requests a minute, evenly spread (give or take `jitter` of the gap),
    on `key` (None: none of ours) from `ip`."""

    per_minute: float
    key: str | None
    ip: str
    start: float
    jitter: float = 0.2
    seed: int = 0
    _next: float = field(init=False)
    _rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not 0 < self.per_minute <= 600:
            raise ValueError("an outside consumer asks between 0 and 600 times a minute")
        self._rng = random.Random(f"outside:{self.seed}")
        self._next = self.start + self._rng.uniform(0.0, self.gap)

    @property
    def gap(self) -> float:
        return 60.0 / self.per_minute

    def due(self, now: float) -> list[float]:
        """Arrival times up to `now` not reported yet (each reported once)."""
        times = []
        while self._next <= now:
            times.append(self._next)
            wobble = self._rng.uniform(-self.jitter, self.jitter) * self.gap
            self._next += max(0.05, self.gap + wobble)
        return times


__all__ = ["NEIGHBOUR_KEY", "OUTSIDE_IP", "OutsideConsumer"]
