"""Each pipeline's rhythm, learned from when its runs were seen: the period and phase of
its scheduled starts and how long its runs take, to place looks where a change shows."""

from __future__ import annotations

import itertools
import math
import statistics
from collections import deque
from dataclasses import dataclass, field

from kondado_tui.core.scheduling.tuning import (
    HALF_PERIOD_PROBES,
    MAX_START_WINDOW,
    MIN_PERIOD,
    MIN_START_SPREAD,
    MIN_STARTS,
    PHASE_MEMORY,
    RHYTHM_MEMORY,
    SCHEDULE_JITTER,
)


@dataclass(frozen=True)
class Window:
    """A span of time in which something happened or is expected to."""

    start: float
    end: float

    @property
    def mid(self) -> float:
        return (self.start + self.end) / 2.0

    @property
    def half_width(self) -> float:
        return (self.end - self.start) / 2.0


@dataclass
class Rhythm:
    """What a pipeline's schedule looks like, learned from when its runs were seen.

    A run's start is only known to lie between the last poll that saw it idle and the
    first that saw it busy, so starts are kept as windows and estimates use their middles.
    """

    starts: deque[Window] = field(default_factory=lambda: deque(maxlen=RHYTHM_MEMORY))
    durations: deque[float] = field(default_factory=lambda: deque(maxlen=RHYTHM_MEMORY))
    current_start: Window | None = None  # of the run in progress

    probe_misses: int = 0  # half-way windows looked at without finding a run
    _probe_period: float | None = field(default=None, repr=False)
    _probe_seen: float | None = field(default=None, repr=False)
    _model: tuple[float, float, float] | None = field(default=None, repr=False)
    _model_of: int = field(default=-1, repr=False)  # `changes` the model was computed at
    changes: int = 0

    def run_started(self, window: Window, *, scheduled: bool = True) -> None:
        """A run began within `window`; `scheduled=False` for a run someone asked for."""
        if self.current_start is not None and window.start <= self.current_start.end:
            return  # the same run seen again (e.g. scheduled, then running)
        self.current_start = window
        if scheduled:
            self.starts.append(window)
            self.changes += 1

    def run_ended(self, window: Window) -> None:
        if self.current_start is not None:
            duration = window.mid - self.current_start.mid
            if duration > 0:
                self.durations.append(duration)
        self.current_start = None

    def period(self) -> float | None:
        """The interval between scheduled starts, if the starts seen so far agree on one.

        Missed runs make some gaps a multiple of the period, so the estimate is the
        largest gap that (nearly) divides at least three quarters of the gaps.
        """
        model = self._start_model()
        return model[0] if model else None

    def next_start(self, after: float) -> Window | None:
        """Where the first start later than `after` is expected (None: no rhythm yet).

        Runs seen only every other slot fit twice the true period just as well, so until
        two half-way windows came and went without a run, those are looked at too.
        """
        model = self._start_model()
        if model is None:
            return None
        period, expected, spread = model
        step = period / 2.0 if self._probing(period) else period
        n = max(1, math.ceil((after - spread - expected) / step))
        at = expected + n * step
        return Window(at - spread, at + spread)

    def saw_idle(self, at: float) -> None:
        """An idle answer: counts a half-way window that came and went without a run."""
        model = self._start_model()
        if model is None:
            return
        period, expected, spread = model
        if self._probe_period is None or abs(self._probe_period - period) > 0.1 * period:
            self._probe_period, self.probe_misses, self._probe_seen = period, 0, None
        if not self._probing(period):
            return
        centre = expected + (math.floor((at - expected) / period) + 0.5) * period
        if abs(at - centre) <= spread:
            self._probe_seen = centre  # looked inside the half-way window
        elif self._probe_seen is not None and at > self._probe_seen + spread:
            opened = self._probe_seen - spread - SCHEDULE_JITTER
            if not (self.starts and self.starts[-1].end >= opened):
                self.probe_misses += 1
            self._probe_seen = None

    def _probing(self, period: float) -> bool:
        return self.probe_misses < HALF_PERIOD_PROBES and period / 2.0 >= MIN_PERIOD

    def _start_model(self) -> tuple[float, float, float] | None:
        """(period, a typical start, its spread); cached: the poller asks on every pick."""
        if self._model_of != self.changes:
            self._model = self._fit_starts()
            self._model_of = self.changes
        return self._model

    def _fit_starts(self) -> tuple[float, float, float] | None:
        """Fit a period and a phase to the start windows seen so far.

        Missed runs make gaps whole multiples of the period and manual runs fall between
        slots, so: candidates are gaps divided by small whole numbers; each is refined by
        a least-squares line through the starts it explains; the largest one explaining
        three quarters of the starts wins (a fraction of the period explains as many,
        a multiple fewer). The phase is where the latest explained windows, widened by
        the schedule's jitter, agree; when they do not, the median of their middles.
        """
        starts = [w for w in self.starts if w.end - w.start <= MAX_START_WINDOW]
        if len(starts) < MIN_STARTS:
            return None
        mids = [w.mid for w in starts]
        candidates = sorted(
            {round((b - a) / k, 1) for a, b in itertools.pairwise(mids) for k in range(1, 7)},
            reverse=True,
        )
        need = max(MIN_STARTS, math.ceil(0.75 * len(starts)))
        for candidate in candidates:
            if candidate < MIN_PERIOD:
                break
            fit = _line_fit(starts, candidate)
            if fit is not None and len(fit[1]) >= need:
                period, explained = fit
                return _phase(explained, period)
        return None

    def run_end(self) -> Window | None:
        """Where the run in progress is expected to end (None: no run or no history)."""
        if self.current_start is None or len(self.durations) < 2:
            return None
        short, long = min(self.durations), max(self.durations)
        slack = max(20.0, 0.1 * long)
        return Window(self.current_start.mid + short - slack, self.current_start.mid + long + slack)


def _tolerance(w: Window) -> float:
    return w.half_width + SCHEDULE_JITTER / 2.0 + 15.0


def _line_fit(starts: list[Window], candidate: float) -> tuple[float, list[Window]] | None:
    """Refine `candidate` into the period that lines up the starts it explains.

    A line `t = origin + k * period` through a precise recent start, refitted by least
    squares on the starts close to it; the allowance for the candidate's own error
    shrinks each round, so a rough candidate is corrected before it is trusted.
    """
    usable = [w for w in starts if w.end - w.start <= candidate / 2.0]  # wider fits anything
    if len(usable) < 2:
        return None
    fits = [_fit_from(usable, candidate, anchor) for anchor in usable[-3:]]  # one may be manual
    found = [f for f in fits if f is not None]
    return max(found, key=lambda f: len(f[1])) if found else None


def _fit_from(
    usable: list[Window], candidate: float, anchor: Window
) -> tuple[float, list[Window]] | None:
    period, origin = candidate, anchor.mid
    explained: list[tuple[int, Window]] = []
    for slack in (0.03, 0.008, 0.002, 0.0):
        explained = []
        for w in usable:
            k = round((w.mid - origin) / period)
            if abs(w.mid - origin - k * period) <= _tolerance(w) + slack * abs(k) * period:
                explained.append((k, w))
        if len({k for k, _ in explained}) < 2:
            return None
        mean_k = sum(k for k, _ in explained) / len(explained)
        mean_t = sum(w.mid for _, w in explained) / len(explained)
        var = sum((k - mean_k) ** 2 for k, _ in explained)
        period = sum((k - mean_k) * (w.mid - mean_t) for k, w in explained) / var
        origin = mean_t - mean_k * period
        if period < MIN_PERIOD or abs(period - candidate) > 0.1 * candidate:
            return None
    return period, [w for _, w in explained]


def _phase(explained: list[Window], period: float) -> tuple[float, float, float]:
    """(period, a typical start, its spread) from the starts the period explains."""
    recent = explained[-PHASE_MEMORY:]
    ref = recent[-1].mid
    low, high = -math.inf, math.inf
    for w in recent:
        shift = round((w.mid - ref) / period) * period
        low = max(low, w.start - shift - ref - SCHEDULE_JITTER)
        high = min(high, w.end - shift - ref)
    if low <= high:
        centre = (low + high + SCHEDULE_JITTER) / 2.0
        spread = (high - low + SCHEDULE_JITTER) / 2.0
    else:
        offsets = [w.mid - ref - round((w.mid - ref) / period) * period for w in recent]
        centre = statistics.median(offsets)
        spread = statistics.median(abs(o - centre) for o in offsets) * 1.5 + SCHEDULE_JITTER
    spread = min(max(spread, MIN_START_SPREAD), period / 4.0)
    return period, ref + centre, spread
