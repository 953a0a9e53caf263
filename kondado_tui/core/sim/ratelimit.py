"""The API's documented rate limits, as the server enforces them.

Per key and per source IP, by arrival time: at most `rps` requests in any second and
`rpm` in any minute. A breach locks that key and that IP out for `lockout` seconds;
requests during a lock-out are refused and do not count.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass

from kondado_tui.core.clock import Clock


@dataclass(frozen=True)
class RateLimits:
    rps: int | None = 1  # None: no per-second limit
    rpm: int | None = 20  # None: no per-minute limit
    lockout: float = 60.0

    @property
    def enabled(self) -> bool:
        return self.rps is not None or self.rpm is not None


class RateLimiter:
    def __init__(self, limits: RateLimits, clock: Clock) -> None:
        self.limits = limits
        self._clock = clock
        self._lock = threading.Lock()
        self._arrivals: dict[str, deque[float]] = {}
        self._locked_until: dict[str, float] = {}

    def admit(self, ip: str, key: str | None, at: float | None = None) -> bool:
        """Record an arrival (now, or at `at`: an outside consumer's, injected in time
        order); False when it breaches a limit or falls in a lock-out."""
        if not self.limits.enabled:
            return True
        subjects = [f"ip:{ip}"] + ([f"key:{key}"] if key else [])
        now = self._clock.now() if at is None else at
        with self._lock:
            if any(self._locked_until.get(s, 0.0) > now for s in subjects):
                return False
            if any(self._breaches(s, now) for s in subjects):
                for s in subjects:
                    self._locked_until[s] = now + self.limits.lockout
                return False
            for s in subjects:
                self._arrivals.setdefault(s, deque()).append(now)
            return True

    def locked_until(self, ip: str, key: str | None = None) -> float | None:
        subjects = [f"ip:{ip}"] + ([f"key:{key}"] if key else [])
        with self._lock:
            until = max((self._locked_until.get(s, 0.0) for s in subjects), default=0.0)
        return until if until > self._clock.now() else None

    def _breaches(self, subject: str, now: float) -> bool:
        arrivals = self._arrivals.setdefault(subject, deque())
        while arrivals and arrivals[0] <= now - 60.0:
            arrivals.popleft()
        rps, rpm = self.limits.rps, self.limits.rpm
        if rpm is not None and len(arrivals) >= rpm:
            return True
        if rps is not None:
            in_last_second = sum(1 for t in arrivals if t > now - 1.0)
            if in_last_second >= rps:
                return True
        return False
