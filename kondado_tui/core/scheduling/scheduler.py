"""The Scheduler: which pipeline to ask next, and when each one becomes due (the package
docstring says how the requests are shared). Pure logic, no I/O; every method takes the
current time, so it runs in virtual time in tests and benchmarks."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from kondado_tui.core.budget.rate_budget import BudgetPolicy
from kondado_tui.core.history.timeline import Transition
from kondado_tui.core.models import PipelineStatus, Priority
from kondado_tui.core.scheduling.index import SteadyIndex
from kondado_tui.core.scheduling.rhythm import Window
from kondado_tui.core.scheduling.tracked import Pick, Tracked
from kondado_tui.core.scheduling.tuning import (
    ACTIVE_MEMORY,
    BUILDING_INTERVAL,
    BUSY_STATUSES,
    FOCUS_ATTENTION,
    FOCUS_INTERVAL,
    FOLLOW_GIVE_UP,
    FOLLOW_LIMIT,
    FOLLOW_STEPS,
    LOAD_REFERENCE_CYCLE,
    MIN_MAX_AGE,
    QUIET_STATUSES,
    RUN_STATUSES,
    RUNNING_EARLY_INTERVAL,
    RUNNING_FRACTION,
    RUNNING_INTERVALS,
    RUNNING_OVERDUE_INTERVAL,
    SCHEDULED_INTERVAL,
    START_WINDOW_INTERVALS,
    SWEEP_CREDIT_CAP,
    SWEEP_MIN_GAP,
    SWEEP_SHARE,
    TROUBLE_FACTOR,
    WINDOW_LOOKS,
    background_rate,
)

LOCAL = ""
"""The watcher of a dashboard's own screen (a collector's viewers have others)."""


@dataclass
class _Watcher:
    focus: int | None = None  # the row under the cursor
    pinned: bool = False  # its detail screen is open
    active_at: float | None = None  # the last key press or click

    def attended(self, now: float) -> bool:
        if self.focus is None:
            return False
        if self.pinned:
            return True
        return self.active_at is not None and now - self.active_at < FOCUS_ATTENTION


class Scheduler:
    """Due times and choices for a list of pipelines, at a given budget."""

    def __init__(self, per_minute: float, pipeline_ids: Iterable[int] = (), now: float = 0.0):
        self.per_minute = per_minute
        self._tracked: dict[int, Tracked] = {}
        # per watcher (a dashboard: this one, LOCAL, or a collector's viewer): the row
        # under its cursor, whether its detail screen is open, its last key press
        self._watchers: dict[str, _Watcher] = {LOCAL: _Watcher()}
        self._held: frozenset[int] = frozenset()  # asked only on a person's request
        self._sweep_credit = 0.0  # sweeps owed (`SWEEP_SHARE` of each automatic request)
        self._swept: int | None = None  # the sweep's choice at the last pick
        self._automatic_at: float | None = None  # the last automatic request left then
        self._now_hint = now  # the time of the last pick (asking() takes no time)
        self._list_version = 0  # bumped by set_pipelines: the plan's index starts over
        self._index = SteadyIndex()
        self.set_pipelines(pipeline_ids, now)

    # -- the list ---------------------------------------------------------------------

    def set_pipelines(self, ids: Iterable[int], now: float) -> None:
        """Keep what is known about pipelines still listed; new ones are asked first."""
        wanted = list(dict.fromkeys(ids))
        if wanted == list(self._tracked):
            return  # the same list: the plan's index stands
        self._tracked = {pid: self._tracked.get(pid) or Tracked(pid) for pid in wanted}
        for watcher in self._watchers.values():
            if watcher.focus not in self._tracked:
                watcher.focus = None
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
        return self._watchers[LOCAL].focus

    def focus(self, pipeline_id: int | None, *, pinned: bool = False, watcher: str = LOCAL) -> None:
        """The selected row of `watcher` (None: none). It is asked every `FOCUS_INTERVAL`
        while it counts as interest (`attended`): `pinned` (its detail screen is open) for
        as long as it stays pinned, otherwise while that user is active (`user_active`).
        Selecting a row is not activity by itself: a re-sort or a reload moves the cursor
        too. A collector has one watcher per viewer; a dashboard alone, LOCAL only."""
        watch = self._watchers.setdefault(watcher, _Watcher())
        for changed in (watch.focus, pipeline_id):
            if changed is not None:
                self._index.changed(changed)
        watch.focus = pipeline_id if pipeline_id in self._tracked else None
        watch.pinned = pinned and watch.focus is not None

    def user_active(self, now: float, watcher: str = LOCAL) -> bool:
        """That user pressed a key or used the mouse at `now`: their selected row counts
        as interest until `FOCUS_ATTENTION` later. Nothing fires when that ends: the plan
        asks `attended(now)` each time. True when the plan changed (the selected row
        just became interesting again)."""
        watch = self._watchers.setdefault(watcher, _Watcher())
        was = watch.attended(now)
        watch.active_at = now if watch.active_at is None else max(watch.active_at, now)
        if was or watch.focus is None:
            return False
        self._index.changed(watch.focus)
        return True

    def attended(self, now: float, watcher: str = LOCAL) -> bool:
        """Whether `watcher`'s selected row counts as interest at `now` (see `focus`)."""
        watch = self._watchers.get(watcher)
        return watch is not None and watch.attended(now)

    def forget_watcher(self, watcher: str) -> None:
        """A viewer went: its selected row no longer counts."""
        watch = self._watchers.pop(watcher, None) if watcher != LOCAL else None
        if watch is not None and watch.focus is not None:
            self._index.changed(watch.focus)

    def _attends(self, pipeline_id: int, now: float) -> bool:
        """Some watcher's selected row is this one, and counts as interest now."""
        return any(w.focus == pipeline_id and w.attended(now) for w in self._watchers.values())

    def _is_held(self, t: Tracked) -> bool:
        """Held (`hold`), and no key press asks it now."""
        return t.pipeline_id in self._held and (
            t.requested_at is None or t.request_priority is not Priority.INTERACTIVE
        )

    def hold(self, ids: Iterable[int]) -> None:
        """Ask these only on a person's request (INTERACTIVE): every dashboard that
        watches them paused (a collector whose viewers paused some of its list)."""
        held = frozenset(ids)
        for pid in held ^ self._held:
            self._index.changed(pid)
        self._held = held

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
        if self._attends(t.pipeline_id, now):
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
        if self._is_held(t):
            return math.inf  # only a key press asks it
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
        stay put until a known time or until something happens to them, so `SteadyIndex`
        keeps them in heaps (`_steady_until` says until when). Each
        choice above takes the first row in list order among the best, so choosing among
        the rows that can win (every other row, the steady rows already due, and the
        steady rows asked longest ago) gives `plan_walk`'s answer; when the next one is
        due is the minimum over the steady rows, taken from the heaps.
        """
        index, built_for = self._index, (self._list_version, self.per_minute)
        if index.built_for != built_for or now < index.now:
            index = self._index = SteadyIndex(built_for, self._tracked)
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
            if self._is_held(t):
                continue  # paused by everyone watching it: only a key press asks it
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
                reason = "focus" if self._attends(pid, now) else "due"
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
        (asked for, never asked, failing, followed, focused while `attended`: once that
        lapses it is still worked out until it is asked); `now`: they change with time
        (a run whose interval still grows, a watch about to lapse), look again at the
        next plan. `plan` works such rows out every time. Follows the branches of
        `_target_interval` (tests/core/test_schedule_plan_cost.py holds the two together)."""
        if (
            t.requested_at is not None
            or t.asked_at is None
            or t.backoff.retry_at is not None
            or t.follow_from is not None
            or t.pipeline_id in self._held
            or self._attends(t.pipeline_id, now)
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
