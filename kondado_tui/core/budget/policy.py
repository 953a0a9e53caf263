"""The numbers of a rate budget, and the one function that turns records into 'not before'.

Pure arithmetic over a `LedgerState` (request times and the end of a lock-out): the
per-process budget (`rate_budget.RateBudget`), the host broker's buckets
(`arbiter.Arbiter`) and each process's own sanity floor all decide with it.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass

from kondado_tui.core.budget.ledger import LedgerState
from kondado_tui.core.models import Priority

API_PER_MINUTE = 20
"""The documented limit: `per_minute` is never set above it."""
MINUTE = 60.0


@dataclass(frozen=True)
class BudgetPolicy:
    """The numbers, and the one function that turns records into 'not before'."""

    per_minute: int = 18
    spacing: float = 1.25
    window_margin: float = 1.0
    reserve: int = 2
    recovery: float = 60.0

    @property
    def window(self) -> float:
        return MINUTE + self.window_margin

    def cap(self, priority: Priority, recovering: bool = False) -> int:
        """How many requests of this priority the window may already hold, plus one."""
        cap = self.per_minute
        if priority is not Priority.INTERACTIVE:  # automatic traffic leaves the reserve
            cap -= max(0, min(self.reserve, self.per_minute - 1))
        return max(1, cap // 2 if recovering else cap)

    def gap(self, recovering: bool = False) -> float:
        return self.spacing * 2 if recovering else self.spacing

    def recovering_at(self, state: LedgerState, when: float) -> bool:
        end = state.lockout_end
        return end is not None and end <= when < end + self.recovery

    def earliest(self, state: LedgerState, priority: Priority, now: float) -> float:
        """The earliest time, not before `now`, a request of `priority` may leave."""
        when = now
        if state.lockout_end is not None and state.lockout_end > when:
            when = state.lockout_end
        stamps = state.stamps
        for _ in range(8):  # each round only moves later; two or three rounds settle it
            recovering = self.recovering_at(state, when)
            later = when
            if stamps:
                later = max(later, stamps[-1] + self.gap(recovering))
            in_window = [t for t in stamps if t > later - self.window]
            cap = self.cap(priority, recovering)
            if len(in_window) >= cap:
                later = max(later, in_window[len(in_window) - cap] + self.window)
            if later <= when:
                return when
            when = later
        return when


def explains_lockout(stamps: Iterable[float], now: float) -> bool:
    """Would these requests (ours, as recorded) alone have tripped the documented
    limits by `now`? When they would not, someone else spent the rest."""
    recent = sorted(t for t in stamps if now - MINUTE < t <= now)
    if len(recent) > API_PER_MINUTE:
        return True
    return any(b - a < 1.0 for a, b in itertools.pairwise(recent))


__all__ = ["API_PER_MINUTE", "MINUTE", "BudgetPolicy", "explains_lockout"]
