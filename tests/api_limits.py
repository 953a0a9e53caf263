"""Checks against the API's documented limits, for tests that count what arrived."""

from __future__ import annotations

import itertools

from kondado_tui.core.sim import SimServer


def arrivals_within_documented_limits(sim: SimServer) -> list[float]:
    times = sorted(r.time for r in sim.log)
    for a, b in itertools.pairwise(times):
        assert b - a >= 1.0, f"two arrivals {b - a:.3f} s apart"
    for i, t in enumerate(times):
        assert sum(1 for u in times[: i + 1] if u > t - 60.0) <= 20
    return times
