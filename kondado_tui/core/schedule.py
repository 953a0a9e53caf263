"""Which pipeline to ask next, and when each one becomes due. Pure logic, no I/O.

Every method takes the current time, so the scheduler runs in virtual time in tests and
in the freshness benchmark. Each turn the poller asks `plan(now)`: the pipeline to ask
(when the rate budget has a slot) and, when nothing is due, until when to sleep.

How the requests are shared (the README's "How polling works" says the same in prose):

- A strict *sweep* asks the row seen longest ago. It is owed at least `SWEEP_SHARE` of the
  automatic requests and takes every slot nothing targeted wants, paced evenly at the
  budget's rate (a burst would fill the budget's window and hold back what becomes due).
  That alone bounds every row's age: `max_age` is the sweep's cycle at its share plus
  one budget window. Rows whose next change is predicted far off (disabled or blocked,
  or idle with a learned rhythm before its next start) are swept last, within `max_age`.
- *Targeted* polls get the rest, most overdue against their interval first: busy
  statuses (scheduled, running, building tables) change soon; a learned `Rhythm` (start
  times and run durations seen so far) places looks around the next predicted start and
  the predicted end of a run in progress, where a failure shows; a row seen changing
  lately but with no rhythm yet gets a round robin's look. A long list stretches these
  intervals.
- A selected pipeline (`focus`) gets a short interval; `follow` (after a run or a
  duplicate) asks every few seconds for a minute and then tapers until the pipeline
  settles; `request_now` makes a pipeline the very next one asked.
- Failures back off: one pipeline's errors only delay that pipeline (`Backoff`); the
  poller keeps a global `Backoff` (with jitter) for transport and credential failures.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
import statistics
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from kondado_tui.core.budget.rate_budget import BudgetPolicy
from kondado_tui.core.history.timeline import Transition
from kondado_tui.core.models import PipelineStatus, Priority

# -- tuning (seconds unless named otherwise) --------------------------------------------

# Routine polling is a strict sweep (the row seen longest ago first) with at least this
# share of the automatic requests, and targeted polls (runs near their end, expected
# starts, the selected row) with the rest; the sweep takes every request nothing
# targeted wants. The share bounds every row's age whatever the targets want.
SWEEP_SHARE = 0.6
SWEEP_CREDIT_CAP = 2.0  # sweeps owed at most (a burst of targets cannot bank more)
SWEEP_MIN_GAP = 5.0  # the sweep never asks a row again sooner than this
ACTIVE_MEMORY = 6 * 3600.0  # a row seen changing this recently is watched, not only swept
# A long list leaves less for each row: targeted intervals stretch by cycle / this (never
# below 1; about 7.6 at 200 pipelines), so watching runs closely does not starve the
# sweep of the rows nothing predicts.
LOAD_REFERENCE_CYCLE = 100.0  # about 25 pipelines at 18 a minute
MIN_MAX_AGE = 60.0
SCHEDULED_INTERVAL = 10.0  # queued runs start within seconds to a minute
# A run of unknown length is asked every `elapsed / RUNNING_FRACTION`, within bounds:
# the delay to see its end stays a fraction of its length.
RUNNING_FRACTION = 4.0
RUNNING_INTERVALS = (8.0, 60.0)
RUNNING_EARLY_INTERVAL = 60.0  # before the shortest run seen so far could end
RUNNING_OVERDUE_INTERVAL = 15.0  # longer than any run seen so far: ends any moment
WINDOW_LOOKS = 10.0  # asks spread over an expected start or end window
START_WINDOW_INTERVALS = (8.0, 30.0)
BUILDING_INTERVAL = 30.0  # building tables takes minutes
TROUBLE_FACTOR = 0.6  # runs of a pipeline whose last run failed or warned
FOCUS_INTERVAL = 10.0
FOLLOW_STEPS: tuple[tuple[float, float], ...] = (
    # (until this long after follow() was called, ask every ...)
    (60.0, 3.0),
    (180.0, 6.0),
    (600.0, 15.0),
)
FOLLOW_LIMIT = FOLLOW_STEPS[-1][0]
FOLLOW_GIVE_UP = 180.0  # never seen busy this long after a run request: stop following

PIPELINE_BACKOFF_BASE = 30.0
PIPELINE_BACKOFF_CAP = 900.0

RHYTHM_MEMORY = 16  # runs remembered per pipeline
PHASE_MEMORY = 6  # the latest starts place the next one (older ones add period error)
MIN_PERIOD = 60.0
SCHEDULE_JITTER = 90.0  # a scheduled run starts up to this late (queueing)
MIN_START_SPREAD = 20.0
HALF_PERIOD_PROBES = 2  # empty half-way windows before the learned period is trusted
MIN_STARTS = 3  # starts explained by a period before it is believed
MAX_START_WINDOW = 1800.0  # a start seen less precisely than this says little

RUN_STATUSES = frozenset({"scheduled", "running"})
BUSY_STATUSES = frozenset({"scheduled", "running", "building_tables"})
QUIET_STATUSES = frozenset({"not_active", "too_many_consecutive_failed_builds__blocked"})


# -- backoff ----------------------------------------------------------------------------


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


# -- rhythm -----------------------------------------------------------------------------


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


# -- per-pipeline state -----------------------------------------------------------------


@dataclass
class Tracked:
    """What the scheduler knows about one pipeline."""

    pipeline_id: int
    status: PipelineStatus | None = None
    observed_at: float | None = None  # last successful answer
    since: float | None = None  # first seen in its current status
    asked_at: float | None = None  # last attempt, successful or not
    rhythm: Rhythm = field(default_factory=Rhythm)
    backoff: Backoff = field(
        default_factory=lambda: Backoff(PIPELINE_BACKOFF_BASE, PIPELINE_BACKOFF_CAP)
    )
    requested_at: float | None = None  # request_now
    request_priority: Priority = Priority.INTERACTIVE  # of that request
    follow_from: float | None = None
    follow_saw_busy: bool = False
    last_failure: str = ""
    changed_at: float | None = None  # last change of status seen by asking (not history)


@dataclass(frozen=True)
class Pick:
    pipeline_id: int
    priority: Priority
    reason: str  # for the debug log and the tests: "requested", "follow", "stale", ...


# Heap entries: (key, stamp, pipeline id); the stamp tells a row's current entry from
# the ones it left behind when it changed (dropped when they reach the top).
_Entry = tuple[float, int, int]


class _SteadyIndex:
    """The plan's index of steady rows (see `Scheduler.plan`): what they need, by when.

    A steady row has a stamp, an interval, whether it is predictable (both as they stay
    until its steady spell ends), and entries in three heaps: by when its interval runs
    out (until then it is not due), by when it was asked (the oldest win the sweep), and
    by when its spell ends. Every other row is *unsteady*: worked out at every plan.
    """

    def __init__(
        self, built_for: tuple[int, float] | None = None, tracked: dict[int, Tracked] | None = None
    ) -> None:
        """An index to fill: every row of `tracked` is filed at the next plan."""
        self.built_for = built_for  # (list version, per_minute): when either changes, anew
        self.now = -math.inf  # of the last plan: a clock going back starts over
        self.steady: dict[int, tuple[int, float, bool]] = {}  # pid -> (stamp, interval, p.)
        # place in the list, to break ties as the walk does (the first wins)
        self._positions = {pid: i for i, pid in enumerate(tracked or {})}
        self._unsteady: set[int] = set()
        self._changed: set[int] = set(tracked or {})  # to file (again) at the next plan
        self._again: set[int] = set()  # unsteady for now only: to file at the next plan
        self._due: dict[int, float] = {}  # steady rows whose interval ran out: asked + it
        self._not_due: list[_Entry] = []  # (asked + interval, ...) still ahead
        self._by_asked: tuple[list[_Entry], list[_Entry]] = ([], [])  # [predictable]
        self._spells: list[_Entry] = []  # (end of the steady spell, ...)
        self._stamps = itertools.count()

    def changed(self, pipeline_id: int) -> None:
        """Something happened to this row: its entries are void until it is filed again."""
        self._changed.add(pipeline_id)
        self.steady.pop(pipeline_id, None)
        self._due.pop(pipeline_id, None)
        self._unsteady.discard(pipeline_id)

    def take_changed(self) -> set[int]:
        """The rows to file (again) now: changed, or unsteady for now only."""
        for pid in self._again:
            self.changed(pid)
        changed, self._changed, self._again = self._changed, set(), set()
        return changed

    def position(self, pipeline_id: int) -> int:
        return self._positions[pipeline_id]

    def add_unsteady(self, pipeline_id: int, again: bool) -> None:
        """`again`: it may turn steady with time alone (no event will say so)."""
        self._unsteady.add(pipeline_id)
        if again:
            self._again.add(pipeline_id)

    def add_steady(
        self,
        pipeline_id: int,
        asked_at: float,
        interval: float,
        predictable: bool,
        until: float,
        now: float,
    ) -> None:
        stamp = next(self._stamps)
        self.steady[pipeline_id] = (stamp, interval, predictable)
        due_at = asked_at + interval  # as `plan_walk` adds them (no rounding apart)
        if now >= due_at:
            self._due[pipeline_id] = due_at
        elif due_at < math.inf:
            heapq.heappush(self._not_due, (due_at, stamp, pipeline_id))
        heapq.heappush(self._by_asked[predictable], (asked_at, stamp, pipeline_id))
        if until < math.inf:
            heapq.heappush(self._spells, (until, stamp, pipeline_id))

    def expire(self, now: float) -> None:
        """Rows whose steady spell is over are filed again."""
        while self._spells and self._spells[0][0] <= now:
            _, stamp, pid = heapq.heappop(self._spells)
            if self._current(stamp, pid):
                self.changed(pid)
        for heap in (self._not_due, *self._by_asked, self._spells):
            if len(heap) > 2 * len(self.steady) + 64:  # mostly left-behind entries
                heap[:] = [e for e in heap if self._current(e[1], e[2])]
                heapq.heapify(heap)

    def collect_due(self, now: float) -> None:
        while self._not_due and self._not_due[0][0] <= now:
            due_at, stamp, pid = heapq.heappop(self._not_due)
            if self._current(stamp, pid):
                self._due[pid] = due_at

    def candidates(self) -> set[int]:
        """The rows that can win a choice: the unsteady, the due, the oldest asked of the
        predictable and of the others (all of them when several were asked together)."""
        found = self._unsteady | self._due.keys()
        for heap in self._by_asked:
            found.update(pid for _, _, pid in self._oldest(heap))
        return found

    def oldest_asked(self) -> float | None:
        tops = [e[0] for e in (self._top(h) for h in self._by_asked) if e is not None]
        return min(tops, default=None)

    def soonest_interval_due(self) -> float:
        """The earliest `asked + interval` among the steady rows."""
        ahead = self._top(self._not_due)
        return min(
            min(self._due.values(), default=math.inf), math.inf if ahead is None else ahead[0]
        )

    def _current(self, stamp: int, pipeline_id: int) -> bool:
        known = self.steady.get(pipeline_id)
        return known is not None and known[0] == stamp

    def _top(self, heap: list[_Entry]) -> _Entry | None:
        while heap and not self._current(heap[0][1], heap[0][2]):
            heapq.heappop(heap)
        return heap[0] if heap else None

    def _oldest(self, heap: list[_Entry]) -> list[_Entry]:
        """The current entries with the smallest key (taken off, then put back)."""
        top = self._top(heap)
        if top is None:
            return []
        taken = []
        while heap and heap[0][0] == top[0]:
            entry = heapq.heappop(heap)
            if self._current(entry[1], entry[2]):
                taken.append(entry)
        for entry in taken:
            heapq.heappush(heap, entry)
        return taken


class Scheduler:
    """Due times and choices for a list of pipelines, at a given budget."""

    def __init__(self, per_minute: float, pipeline_ids: Iterable[int] = (), now: float = 0.0):
        self.per_minute = per_minute
        self._tracked: dict[int, Tracked] = {}
        self._focus: int | None = None
        self._sweep_credit = 0.0  # sweeps owed (`SWEEP_SHARE` of each automatic request)
        self._swept: int | None = None  # the sweep's choice at the last pick
        self._automatic_at: float | None = None  # the last automatic request left then
        self._now_hint = now  # the time of the last pick (asking() takes no time)
        self._list_version = 0  # bumped by set_pipelines: the plan's index starts over
        self._index = _SteadyIndex()
        self.set_pipelines(pipeline_ids, now)

    # -- the list ---------------------------------------------------------------------

    def set_pipelines(self, ids: Iterable[int], now: float) -> None:
        """Keep what is known about pipelines still listed; new ones are asked first."""
        wanted = list(dict.fromkeys(ids))
        if wanted == list(self._tracked):
            return  # the same list: the plan's index stands
        self._tracked = {pid: self._tracked.get(pid) or Tracked(pid) for pid in wanted}
        if self._focus not in self._tracked:
            self._focus = None
        self._list_version += 1

    @property
    def pipeline_ids(self) -> list[int]:
        return list(self._tracked)

    def tracked(self, pipeline_id: int) -> Tracked | None:
        return self._tracked.get(pipeline_id)

    # -- derived limits ---------------------------------------------------------------

    @property
    def cycle(self) -> float:
        """Seconds a plain round robin takes to ask every pipeline once: the number of
        pipelines over what the budget lets automatic requests have."""
        return len(self._tracked) / background_rate(self.per_minute)

    @property
    def load_factor(self) -> float:
        return max(1.0, self.cycle / LOAD_REFERENCE_CYCLE)  # (also in `_target_interval`)

    @property
    def sweep_cycle(self) -> float:
        """The sweep alone, at its guaranteed share, goes round the list in this time."""
        return self.cycle / SWEEP_SHARE

    @property
    def max_age(self) -> float:
        """Every pipeline is asked at least this often (while the API answers): a row
        unasked for a sweep cycle goes next, and the next automatic slot comes within the
        budget's window (other requests may have filled it)."""
        window = BudgetPolicy(per_minute=max(1, int(self.per_minute))).window
        return max(MIN_MAX_AGE, self.sweep_cycle + window)

    # -- what happened ----------------------------------------------------------------

    def seed(self, status: PipelineStatus, observed_at: float, since: float) -> None:
        """An observation from history: known, but as old as it is."""
        t = self._tracked.get(status.pipeline_id)
        if t is None or (t.observed_at is not None and t.observed_at >= observed_at):
            return
        self._index.changed(t.pipeline_id)
        t.status, t.observed_at, t.since, t.asked_at = status, observed_at, since, observed_at

    def learn(self, pipeline_id: int, history: Iterable[Transition]) -> None:
        """Learn the rhythm from recorded transitions (oldest first)."""
        t = self._tracked.get(pipeline_id)
        if t is None:
            return
        self._index.changed(pipeline_id)
        current: str | None = None
        for tr in history:
            if tr.pipeline_id != pipeline_id:
                continue
            lo = tr.previous_seen_at if tr.previous_seen_at is not None else tr.at
            window = Window(min(lo, tr.at), tr.at)
            old = tr.from_status
            if tr.to_status in RUN_STATUSES and old is not None and old not in RUN_STATUSES:
                t.rhythm.run_started(window)
            elif tr.to_status not in BUSY_STATUSES and old in RUN_STATUSES:
                t.rhythm.run_ended(window)
            current = tr.to_status
        if current not in RUN_STATUSES:
            t.rhythm.current_start = None

    def observed(self, status: PipelineStatus, at: float) -> float:
        """Note an answer; returns when the pipeline entered this status (as far as known)."""
        t = self._tracked.get(status.pipeline_id)
        if t is None:
            return at
        self._index.changed(t.pipeline_id)
        old, last_seen = t.status, t.observed_at
        if old is None or old.status != status.status or t.since is None:
            t.since = at
            if old is not None and last_seen is not None:
                t.changed_at = at
                window = Window(last_seen, at)
                if status.status in RUN_STATUSES and old.status not in RUN_STATUSES:
                    # A run the user asked for says nothing about the schedule.
                    t.rhythm.run_started(window, scheduled=t.follow_from is None)
                elif status.status not in BUSY_STATUSES and old.status in RUN_STATUSES:
                    t.rhythm.run_ended(window)
        if status.status not in BUSY_STATUSES:
            t.rhythm.saw_idle(at)
        if t.follow_from is not None:
            busy = status.status in BUSY_STATUSES
            if busy:
                t.follow_saw_busy = True
            elif t.follow_saw_busy or at - t.follow_from >= FOLLOW_GIVE_UP:
                t.follow_from = None  # settled (or the run came and went unseen)
            if t.follow_from is not None and at - t.follow_from >= FOLLOW_LIMIT:
                t.follow_from = None
        t.status, t.observed_at, t.asked_at = status, at, at
        t.requested_at = None
        t.backoff.reset()
        t.last_failure = ""
        return t.since

    def failed(self, pipeline_id: int, at: float, message: str = "") -> float:
        """Asking this pipeline failed for a reason of its own: back off it alone."""
        t = self._tracked.get(pipeline_id)
        if t is None:
            return at
        self._index.changed(pipeline_id)
        t.asked_at = at
        t.requested_at = None
        t.last_failure = message
        return t.backoff.fail(at)

    # -- what the user wants ----------------------------------------------------------

    @property
    def focused(self) -> int | None:
        return self._focus

    def focus(self, pipeline_id: int | None) -> None:
        for changed in (self._focus, pipeline_id):
            if changed is not None:
                self._index.changed(changed)
        self._focus = pipeline_id if pipeline_id in self._tracked else None

    def request_now(
        self, pipeline_id: int, now: float, priority: Priority = Priority.INTERACTIVE
    ) -> None:
        """Ask this pipeline next. INTERACTIVE is a person's key press: it uses the budget's
        reserve and goes even while polling is held (`pick(now, only=INTERACTIVE)`)."""
        t = self._tracked.get(pipeline_id)
        if t is None:
            return
        self._index.changed(pipeline_id)
        if t.requested_at is None:
            t.requested_at = now
            t.request_priority = priority
        elif priority.value < t.request_priority.value:
            t.request_priority = priority

    def forgive(self, pipeline_id: int) -> None:
        """A failure blamed on this pipeline was not its own: undo its backoff."""
        t = self._tracked.get(pipeline_id)
        if t is not None:
            self._index.changed(pipeline_id)
            t.backoff.reset()
            t.last_failure = ""

    def probe_candidate(self, exclude: Iterable[int] = ()) -> int | None:
        """The pipeline to test the credentials with: the one answered most recently
        (it worked with them), else one not failing, else any; None if none is left."""
        skip = set(exclude)
        left = [t for t in self._tracked.values() if t.pipeline_id not in skip]
        if not left:
            return None
        worked = [t for t in left if t.observed_at is not None and not t.last_failure]
        if worked:
            return max(worked, key=lambda t: t.observed_at or 0.0).pipeline_id
        healthy = [t for t in left if not t.last_failure]
        return (healthy or left)[0].pipeline_id

    def follow(self, pipeline_id: int, now: float) -> None:
        t = self._tracked.get(pipeline_id)
        if t is not None:
            self._index.changed(pipeline_id)
            t.follow_from = now
            t.follow_saw_busy = False

    def following(self, pipeline_id: int) -> bool:
        t = self._tracked.get(pipeline_id)
        return t is not None and t.follow_from is not None

    # -- the choice -------------------------------------------------------------------

    def interval(self, pipeline_id: int, now: float) -> float:
        """How long after its last ask this pipeline wants asking again (targeted polls;
        `math.inf`: only the sweep asks it)."""
        return self._interval(self._tracked[pipeline_id], now, self.cycle)

    def _interval(self, t: Tracked, now: float, cycle: float) -> float:
        """`interval`, with the list's `cycle` worked out once per plan, not per row."""
        interval = self._target_interval(t, now, cycle)
        if t.follow_from is not None:
            interval = min(interval, _follow_interval(now - t.follow_from))
        if t.pipeline_id == self._focus:
            interval = min(interval, FOCUS_INTERVAL)
        return max(1.0, interval)

    def _target_interval(self, t: Tracked, now: float, cycle: float) -> float:
        # `_steady_until` knows when each branch's answer changes: change both together.
        if t.status is None:
            return 0.0
        status = t.status.status
        last = t.asked_at if t.asked_at is not None else now
        if status == "scheduled":
            return SCHEDULED_INTERVAL
        if status == "building_tables":
            return BUILDING_INTERVAL
        if status in QUIET_STATUSES:
            return math.inf
        # Failures show at the end of runs, and the run after a failure fails more often
        # than others: watch those closer.
        factor = TROUBLE_FACTOR if _looks_failed(t.status) else 1.0
        factor *= max(1.0, cycle / LOAD_REFERENCE_CYCLE)  # `load_factor`
        if status == "running":
            # never less often than half a round robin's cycle
            return min(self._running_interval(t, last, now) * factor, cycle / 2.0)
        start = t.rhythm.next_start(last)
        if start is not None and now < start.start:
            return start.start - last  # nothing expected before the window opens
        if start is not None and now <= start.end:
            looks = _clamp(2.0 * start.half_width / WINDOW_LOOKS, *START_WINDOW_INTERVALS)
            return looks * factor
        if t.changed_at is not None and now - t.changed_at < ACTIVE_MEMORY:
            # Runs lately but no rhythm yet: a round robin's look, so its starts are
            # seen precisely enough to learn one.
            return cycle
        return math.inf  # nothing lately (or the run did not come): the sweep looks

    def _running_interval(self, t: Tracked, last: float, now: float) -> float:
        """A run ends (and a failure shows) at its end: the longer it has run, the less
        a few seconds matter, so the interval grows with the time it has been running."""
        began = t.rhythm.current_start.mid if t.rhythm.current_start else t.since or last
        elapsed = max(0.0, now - began)
        interval = _clamp(elapsed / RUNNING_FRACTION, *RUNNING_INTERVALS)
        end = t.rhythm.run_end()
        if end is not None and now < end.start:  # no run this short seen: rarely ends now
            return max(interval, min(end.start - last, RUNNING_EARLY_INTERVAL))
        if end is not None and now > end.end:  # longer than any run seen: ends any moment
            return min(interval, RUNNING_OVERDUE_INTERVAL)
        return interval

    def due_at(self, pipeline_id: int, now: float) -> float:
        t = self._tracked[pipeline_id]
        if t.requested_at is not None:
            return t.requested_at
        if t.asked_at is None:
            return now
        sweep = max(t.asked_at + SWEEP_MIN_GAP, self._spare_at())
        stale = t.asked_at + self.sweep_cycle
        due = min(t.asked_at + self.interval(pipeline_id, now), sweep, stale)
        if t.backoff.retry_at is not None:
            due = max(due, t.backoff.retry_at)
        return due

    def next_due_at(self, now: float) -> float | None:
        if not self._tracked:
            return None
        return min(self.due_at(pid, now) for pid in self._tracked)

    def asking(
        self, pipeline_id: int, priority: Priority = Priority.BACKGROUND, now: float | None = None
    ) -> None:
        """A request for this pipeline leaves (`now`: by default, at the last `pick`): a
        pending `request_now` is served by it, whatever the answer (a failure must not
        repeat a key press). Automatic requests count towards the sweep's share."""
        t = self._tracked.get(pipeline_id)
        if t is None:
            return
        self._index.changed(pipeline_id)
        t.requested_at = None
        if priority is Priority.INTERACTIVE:
            return
        self._automatic_at = self._now_hint if now is None else now
        self._sweep_credit = min(self._sweep_credit + SWEEP_SHARE, SWEEP_CREDIT_CAP)
        if self._swept == pipeline_id:
            self._sweep_credit = max(0.0, self._sweep_credit - 1.0)
        self._swept = None

    def pick(self, now: float, only: Priority | None = None) -> Pick | None:
        """The pipeline to ask now, or None when none is due (see `plan`)."""
        return self.plan(now, only)[0]

    def plan(self, now: float, only: Priority | None = None) -> tuple[Pick | None, float | None]:
        """The pipeline to ask now (or None when none is due), and when the next one is
        due: `next_due_at(now)` (with `only`, None: a held poller does not wait for due
        rows). The same answer as `plan_walk`, without a walk over the whole list.

        `only`: consider only requests (`request_now`) of this priority or a more urgent
        one: what still goes while polling is paused or held back.

        Order: requests, then the sweep when it is owed its share (or a row nears
        `max_age`), follow-ups of the user's runs, the targeted polls most overdue
        against their interval, and the sweep with whatever is left.

        How: most rows are *steady* (asked before; not requested, followed, focused or
        failing; a run once its interval stopped growing): their interval and sweep order
        stay put until a known time or until something happens to them, so `_SteadyIndex`
        keeps them in heaps (`_steady_until` says until when). Each
        choice above takes the first row in list order among the best, so choosing among
        the rows that can win (every other row, the steady rows already due, and the
        steady rows asked longest ago) gives `plan_walk`'s answer; when the next one is
        due is the minimum over the steady rows, taken from the heaps.
        """
        index, built_for = self._index, (self._list_version, self.per_minute)
        if index.built_for != built_for or now < index.now:
            index = self._index = _SteadyIndex(built_for, self._tracked)
        index.now = now
        index.expire(now)
        cycle = self.cycle
        for pid in index.take_changed():
            t = self._tracked.get(pid)
            if t is not None:
                self._settle(t, now, cycle)
        index.collect_due(now)
        candidates = index.candidates()
        soonest = math.inf
        oldest_asked = index.oldest_asked()
        if oldest_asked is not None:  # the steady rows' part of next_due_at(now)
            soonest = min(
                index.soonest_interval_due(),
                max(oldest_asked + SWEEP_MIN_GAP, self._spare_at()),
                oldest_asked + self.sweep_cycle,
            )
        rows = ((pid, self._tracked[pid]) for pid in sorted(candidates, key=index.position))
        return self._choose(now, only, rows, index.steady, soonest)

    def plan_walk(
        self, now: float, only: Priority | None = None
    ) -> tuple[Pick | None, float | None]:
        """`plan`'s answer by the plain walk over every pipeline: the reference it is
        held to (tests/core/test_schedule_plan_cost.py, benchmarks/plan_cost.py)."""
        return self._choose(now, only, self._tracked.items(), {}, math.inf)

    def _choose(
        self,
        now: float,
        only: Priority | None,
        rows: Iterable[tuple[int, Tracked]],
        steady: dict[int, tuple[int, float, bool]],
        soonest: float,
    ) -> tuple[Pick | None, float | None]:
        """`plan` over `rows` (in list order); `steady`: the rows whose (stamp, interval,
        predictable) is known; `soonest`: when the rows left out are next due."""
        requested: tuple[tuple[float, float], Pick] | None = None
        follow: tuple[float, Pick] | None = None
        target: tuple[float, Pick] | None = None
        sweep: tuple[tuple[bool, float, float], Tracked] | None = None
        oldest: tuple[tuple[float, float], Tracked] | None = None
        key: tuple[bool, float, float]
        first: Tracked | None = None
        spare_at, stale_after, cycle = self._spare_at(), self.sweep_cycle, self.cycle
        for pid, t in rows:
            held_back = t.backoff.retry_at is not None and now < t.backoff.retry_at
            if only is None and (t.requested_at is not None or t.asked_at is None or held_back):
                soonest = min(soonest, self.due_at(pid, now))  # few rows: the plain way
            if t.requested_at is not None:
                if only is not None and t.request_priority.value > only.value:
                    continue
                # the most urgent first, then the oldest request
                rank = (t.request_priority.value / 10.0, t.requested_at)
                if requested is None or rank < requested[0]:
                    requested = (rank, Pick(pid, t.request_priority, "requested"))
                continue
            if only is not None or held_back:
                continue
            if t.asked_at is None:
                first = first or t  # never asked: before any other
                continue
            if (
                t.follow_from is not None
                and _follow_due(t, now)
                and (follow is None or t.asked_at < follow[0])
            ):
                follow = (t.asked_at, Pick(pid, Priority.FOLLOW, "follow"))
            known = steady.get(pid)
            interval = known[1] if known is not None else self._interval(t, now, cycle)
            due_at = min(
                t.asked_at + interval,
                max(t.asked_at + SWEEP_MIN_GAP, spare_at),
                t.asked_at + stale_after,
            )  # as due_at() says
            if t.backoff.retry_at is not None:
                due_at = max(due_at, t.backoff.retry_at)
            soonest = min(soonest, due_at)
            overdue = (now - t.asked_at) / interval
            due = now >= t.asked_at + interval  # as due_at() says (no rounding apart)
            if due and (target is None or -overdue < target[0]):
                reason = "focus" if pid == self._focus else "due"
                target = (-overdue, Pick(pid, Priority.BACKGROUND, reason))
            seen = t.asked_at  # (an answer is noted as an ask too)
            if oldest is None or (seen, -overdue) < oldest[0]:
                oldest = ((seen, -overdue), t)
            # oldest first, rows whose next change nothing predicts before the others
            predictable = known[2] if known is not None else self._predictable(t, now)
            key = (predictable, seen, -overdue)
            if now >= t.asked_at + SWEEP_MIN_GAP and (sweep is None or key < sweep[0]):
                sweep = (key, t)
        self._swept = None
        self._now_hint = now
        next_due = None if only is not None or not self._tracked else soonest
        if requested is not None:
            return requested[1], next_due
        if first is not None:
            return self._sweep_pick(first, "first look"), next_due
        if oldest is not None and now >= oldest[0][0] + stale_after:
            return self._sweep_pick(oldest[1], "stale"), next_due
        if sweep is not None and self._sweep_credit >= 1.0:
            return self._sweep_pick(sweep[1], "sweep"), next_due
        if follow is not None:
            return follow[1], next_due
        if target is not None:
            return target[1], next_due
        if sweep is not None and now >= spare_at:
            return self._sweep_pick(sweep[1], "sweep"), next_due
        return None, next_due

    def _settle(self, t: Tracked, now: float, cycle: float) -> None:
        """File a row that changed (or whose steady spell ended) in the plan's index."""
        until = self._steady_until(t, now, cycle)
        if until <= now or t.asked_at is None:
            self._index.add_unsteady(t.pipeline_id, again=until == now)
            return
        interval = self._interval(t, now, cycle)
        self._index.add_steady(
            t.pipeline_id, t.asked_at, interval, self._predictable(t, now), until, now
        )

    def _steady_until(self, t: Tracked, now: float, cycle: float) -> float:
        """Until when (exclusive) this row's `interval` and `_predictable` keep the values
        they have at `now`, unless something happens to it. -inf: until something does
        (asked for, never asked, failing, followed, focused); `now`: they change with
        time (a run whose interval still grows, a watch about to lapse), look again at
        the next plan. `plan` works such rows out every time. Follows the branches of
        `_target_interval` (tests/core/test_schedule_plan_cost.py holds the two together)."""
        if (
            t.requested_at is not None
            or t.asked_at is None
            or t.backoff.retry_at is not None
            or t.follow_from is not None
            or t.pipeline_id == self._focus
        ):
            return -math.inf
        if t.status is None:
            return math.inf
        status = t.status.status
        if status == "running":
            return self._running_steady_until(t, t.asked_at, now, cycle)
        if status in BUSY_STATUSES or status in QUIET_STATUSES:
            return math.inf
        start = t.rhythm.next_start(t.asked_at)
        if start is not None and now < start.start:
            return start.start
        if start is not None and now <= start.end:
            return math.nextafter(start.end, math.inf)
        if t.changed_at is not None and now - t.changed_at < ACTIVE_MEMORY:
            # `now - changed_at` rounds: look again a little before it can reach the limit
            margin = 1e-9 * (abs(t.changed_at) + ACTIVE_MEMORY) + 1e-6
            return max(t.changed_at + ACTIVE_MEMORY - margin, now)
        return math.inf

    def _running_steady_until(self, t: Tracked, last: float, now: float, cycle: float) -> float:
        """`_steady_until` for a run: within a branch of `_running_interval` its interval
        only grows with the time it has run, so once it is at the most that branch gives,
        or at the cap of half a cycle, it stays there until the branch changes."""
        end = t.rhythm.run_end()
        if end is not None and now < end.start:
            until, most = end.start, max(RUNNING_INTERVALS[1], RUNNING_EARLY_INTERVAL)
        elif end is not None and now > end.end:
            until, most = math.inf, min(RUNNING_INTERVALS[1], RUNNING_OVERDUE_INTERVAL)
        else:
            until = math.inf if end is None else math.nextafter(end.end, math.inf)
            most = RUNNING_INTERVALS[1]
        if (
            self._running_interval(t, last, now) >= most
            or self._target_interval(t, now, cycle) >= cycle / 2.0
        ):
            return until
        return now  # still growing

    def _spare_at(self) -> float:
        """When the sweep may spend a spare request: evenly spaced at the budget's rate,
        so the rolling window never fills with them and a row that becomes due (or
        stale) finds a slot at once."""
        if self._automatic_at is None:
            return -math.inf
        return self._automatic_at + 1.0 / background_rate(self.per_minute)

    def _predictable(self, t: Tracked, now: float) -> bool:
        """Nothing should change before its next targeted look: disabled or blocked, or
        idle with a learned rhythm whose next start is still ahead. The sweep asks these
        last (they are still asked within `max_age`: others can press RUN in the app)."""
        if t.status is None or t.status.status in BUSY_STATUSES:
            return False
        if t.status.status in QUIET_STATUSES:
            return True
        start = t.rhythm.next_start(t.asked_at if t.asked_at is not None else now)
        return start is not None and now < start.start

    def _sweep_pick(self, t: Tracked, reason: str) -> Pick:
        self._swept = t.pipeline_id
        return Pick(t.pipeline_id, Priority.BACKGROUND, reason)


def background_rate(per_minute: float) -> float:
    """Requests a second the rate budget lets automatic traffic have (its window less
    the reserve kept for key presses)."""
    policy = BudgetPolicy(per_minute=max(1, int(per_minute)))
    return policy.cap(Priority.BACKGROUND) / policy.window


def _follow_interval(elapsed: float) -> float:
    for until, every in FOLLOW_STEPS:
        if elapsed < until:
            return every
    return math.inf


def _follow_due(t: Tracked, now: float) -> bool:
    assert t.follow_from is not None
    return t.asked_at is None or now - t.asked_at >= _follow_interval(now - t.follow_from)


def _looks_failed(status: PipelineStatus) -> bool:
    return status.raw_msg is not None or status.kind.severity.is_trouble


def _clamp(value: float, low: float, high: float) -> float:
    return max(low, min(high, value))
