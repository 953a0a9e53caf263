"""Exponential backoff: one pipeline's own failures, and the poller's global one."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class Backoff:
    """Exponential backoff with a cap and optional jitter (a fraction of the delay)."""

    base: float
    cap: float
    jitter: float = 0.0
    rng: random.Random = field(default_factory=random.Random, repr=False)
    failures: int = 0
    retry_at: float | None = None

    def fail(self, now: float) -> float:
        """Note a failure; returns the time to try again."""
        delay = min(self.cap, self.base * 2.0 ** min(self.failures, 30))
        if self.jitter:
            delay *= 1.0 - self.jitter * self.rng.random()
        self.failures += 1
        self.retry_at = now + delay
        return self.retry_at

    def reset(self) -> None:
        self.failures = 0
        self.retry_at = None

    def waiting(self, now: float) -> bool:
        return self.retry_at is not None and now < self.retry_at
