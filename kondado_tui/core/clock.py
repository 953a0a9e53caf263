"""Time as a dependency.

Everything that schedules, ages or limits takes a `Clock`, so tests and benchmarks can
run in virtual time and screenshots can be taken with a frozen one.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the epoch (wall time: shared by processes and stored in history)."""
        ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def now(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class ManualClock:
    """A clock that only moves when told to (tests, snapshots, benchmarks).

    `sleep` advances the clock itself, so a single coroutine driven in virtual time runs
    as fast as the CPU allows. `frozen=True` makes `sleep` wait for real instead (a
    frozen clock for snapshots must not race ahead while the UI idles).
    """

    def __init__(self, start: float = 1_790_000_000.0, *, frozen: bool = False) -> None:
        self._now = start
        self._frozen = frozen

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += max(0.0, seconds)

    def set(self, when: float) -> None:
        self._now = when

    async def sleep(self, seconds: float) -> None:
        if self._frozen:
            await asyncio.sleep(max(0.0, min(seconds, 3600.0)))
            return
        self.advance(seconds)
        await asyncio.sleep(0)


SYSTEM_CLOCK = SystemClock()
