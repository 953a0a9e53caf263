"""Fakes of what the poller needs (its budget) and a recorder of what it says, shared by
the poller tests in tests/core and the start-up tests in tests/ui."""

from __future__ import annotations

from kondado_tui.core.clock import SYSTEM_CLOCK, Clock
from kondado_tui.core.events import (
    Health,
    HealthChanged,
    PipelineFailed,
    PollerEvent,
    StatusObserved,
)
from kondado_tui.core.models import Priority


class FakeBudget:
    """The poller's view of `RateBudget`, without the waiting: tests run fast."""

    def __init__(self, clock: Clock = SYSTEM_CLOCK, per_minute: int = 18) -> None:
        self.clock = clock
        self.per_minute = per_minute
        self.shared = False
        self.note = "test budget"
        self.stamps: list[tuple[float, Priority]] = []
        self.lockout: float | None = None

    @property
    def locked_until(self) -> float | None:
        now = self.clock.now()
        return self.lockout if self.lockout is not None and self.lockout > now else None

    async def acquire(self, priority: Priority = Priority.BACKGROUND) -> None:
        self.stamps.append((self.clock.now(), priority))

    def report_rate_limited(self, wait: float) -> None:
        self.lockout = self.clock.now() + wait

    def used_last_minute(self) -> int:
        now = self.clock.now()
        return sum(1 for t, _ in self.stamps if t > now - 60)

    def next_slot_at(self, priority: Priority = Priority.BACKGROUND) -> float:
        return max(self.clock.now(), self.locked_until or 0.0)


class Recorder:
    def __init__(self) -> None:
        self.events: list[PollerEvent] = []

    def __call__(self, event: PollerEvent) -> None:
        self.events.append(event)

    def observed(self, pid: int | None = None) -> list[StatusObserved]:
        return [
            e
            for e in self.events
            if isinstance(e, StatusObserved) and (pid is None or e.pipeline_id == pid)
        ]

    def failed(self) -> list[PipelineFailed]:
        return [e for e in self.events if isinstance(e, PipelineFailed)]

    def healths(self) -> list[Health]:
        return [e.health for e in self.events if isinstance(e, HealthChanged)]
