"""How often the alert command may run, and what happens to alerts over the cap.

Two caps, both in virtual time (a `now` is passed in):
- at most `per_minute` runs in any 60 s, all pipelines together;
- the same pipeline alerting the same state again (trouble, recovery, trouble... a
  flapping pipeline) within `repeat_after` seconds of the last run that told it.

An alert over a cap is held, not dropped. Held alerts are coalesced per pipeline (its
latest alert stands for the ones before: a summary never says "error" for a pipeline
that recovered since) and go out together in one run as soon as both caps allow it.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from kondado_tui.core.alerts.payload import Delivery
from kondado_tui.core.durations import format_age, format_duration
from kondado_tui.core.events import Alert, AlertKind

WINDOW = 60.0


@dataclass
class _Held:
    alert: Alert
    release: float  # not before: when its own repeat cap ends (or when it was held)
    count: int  # alerts of this pipeline it stands for


def _key(alert: Alert) -> tuple[int, AlertKind, str]:
    return (alert.pipeline_id, alert.kind, alert.status.value)


class Throttle:
    def __init__(self, per_minute: int, repeat_after: float, *, on_recovery: bool = True) -> None:
        self.per_minute = max(1, per_minute)
        self.repeat_after = max(0.0, repeat_after)
        self.on_recovery = on_recovery
        self._runs: deque[float] = deque()  # when the command ran, within the window
        self._told: dict[tuple[int, AlertKind, str], float] = {}  # last run per state
        self._held: dict[int, _Held] = {}  # pipeline id -> its latest held alert

    @property
    def held(self) -> int:
        """How many alerts are held back now."""
        return sum(h.count for h in self._held.values())

    def cap_words(self) -> str:
        words = f"at most {self.per_minute} runs a minute"
        if self.repeat_after:
            words += f", one per pipeline and state every {format_age(self.repeat_after)}"
        return words

    def offer(self, alert: Alert, now: float) -> Delivery | str | None:
        """A delivery to run now; or why the alert was held (a sentence); or None when
        there is nothing to send (a recovery while recoveries are not wanted)."""
        self._forget(now)
        held = self._held.get(alert.pipeline_id)
        if alert.kind is AlertKind.RECOVERED and not self.on_recovery:
            # Not wanted by itself, but a held trouble of this pipeline is no longer true.
            if held is not None:
                del self._held[alert.pipeline_id]
            return None
        if held is not None:
            # Coalesced: this pipeline's latest alert stands for its earlier ones.
            held.alert, held.count = alert, held.count + 1
            held.release = self._repeat_release(alert, now)
            return self._why(alert, now)
        release = self._repeat_release(alert, now)
        if release > now or len(self._runs) >= self.per_minute:
            self._held[alert.pipeline_id] = _Held(alert, release, 1)
            return self._why(alert, now)
        self._ran([alert], now)
        return Delivery((alert,))

    def due_at(self, now: float) -> float | None:
        """When held alerts can go out (None: nothing held)."""
        if not self._held:
            return None
        self._forget(now)
        first = min(h.release for h in self._held.values())
        return max(first, self._slot_at(now))

    def flush(self, now: float) -> Delivery | None:
        """The held alerts whose time has come, as one run (None: not yet, or none)."""
        due = self.due_at(now)
        if due is None or due > now:
            return None
        ready = [h for h in self._held.values() if h.release <= now]
        for h in ready:
            del self._held[h.alert.pipeline_id]
        self._ran([h.alert for h in ready], now)
        return Delivery(
            tuple(h.alert for h in ready),
            held=sum(h.count for h in ready),
            cap_words=self.cap_words(),
        )

    def take_all(self) -> list[Alert]:
        """Every held alert, forgotten (the process is ending: they are logged)."""
        alerts = [h.alert for h in self._held.values()]
        self._held.clear()
        return alerts

    # -- internals --------------------------------------------------------------------

    def _repeat_release(self, alert: Alert, now: float) -> float:
        told = self._told.get(_key(alert))
        return now if told is None else max(now, told + self.repeat_after)

    def _slot_at(self, now: float) -> float:
        if len(self._runs) < self.per_minute:
            return now
        return self._runs[-self.per_minute] + WINDOW

    def _ran(self, alerts: list[Alert], now: float) -> None:
        self._runs.append(now)
        for alert in alerts:
            self._told[_key(alert)] = now

    def _forget(self, now: float) -> None:
        while self._runs and self._runs[0] <= now - WINDOW:
            self._runs.popleft()
        horizon = now - self.repeat_after
        for key in [k for k, at in self._told.items() if at <= horizon]:
            del self._told[key]

    def _why(self, alert: Alert, now: float) -> str:
        due = self.due_at(now)
        wait = ""
        if due is not None:
            wait = f"; held alerts go out together in {format_duration(math.ceil(due - now))}"
        if self._told.get(_key(alert), -1e18) + self.repeat_after > now:
            cause = (
                f"pipeline {alert.pipeline_id} alerted the same state less than "
                f"{format_age(self.repeat_after)} ago ([alerts] repeat_minutes)"
            )
        else:
            cause = (
                f"the alert command ran {len(self._runs)} times in the last minute "
                "([alerts] max_per_minute)"
            )
        return f"alert for pipeline {alert.pipeline_id} held back: {cause}{wait}"
