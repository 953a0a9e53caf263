"""The scheduler in virtual time: who is asked, how often, and what it learns."""

from __future__ import annotations

import itertools
import random
from collections import defaultdict
from collections.abc import Callable

import pytest

from kondado_tui.core.budget.rate_budget import BudgetPolicy
from kondado_tui.core.history.timeline import Transition
from kondado_tui.core.models import PipelineStatus, Priority
from kondado_tui.core.scheduling import (
    FOCUS_INTERVAL,
    PIPELINE_BACKOFF_BASE,
    PIPELINE_BACKOFF_CAP,
    SWEEP_SHARE,
    Backoff,
    Rhythm,
    Scheduler,
    Window,
)

T0 = 1_790_000_000.0
SLOT = 60.0 / 16  # what the budget lets background polls have at 18 a minute

StatusAt = Callable[[int, float], str]


def drive(
    sched: Scheduler, status_at: StatusAt, start: float, seconds: float, slot: float = SLOT
) -> dict[int, list[float]]:
    """Ask as the poller does: one pick per budget slot. Returns ask times per pipeline."""
    asked: dict[int, list[float]] = defaultdict(list)
    now = start
    while now < start + seconds:
        pick = sched.pick(now)
        if pick is not None:
            asked[pick.pipeline_id].append(now)
            sched.observed(PipelineStatus(pick.pipeline_id, status_at(pick.pipeline_id, now)), now)
            now += slot
        else:
            due = sched.next_due_at(now)
            assert due is not None
            now = max(now + 0.1, min(due, now + slot))
    return asked


def max_gap(times: list[float], start: float, end: float) -> float:
    points = [start, *times, end]
    return max(b - a for a, b in itertools.pairwise(points))


def test_max_age_follows_the_budget_and_the_count() -> None:
    window = BudgetPolicy().window
    sched = Scheduler(18, range(50), T0)
    # round robin at what the budget leaves automatic requests: 16 per 61 s
    assert sched.cycle == pytest.approx(50 / 16 * window)
    assert sched.max_age == pytest.approx(sched.cycle / SWEEP_SHARE + window)
    sched.set_pipelines(range(200), T0)
    assert sched.max_age == pytest.approx(4 * 50 / 16 * window / SWEEP_SHARE + window)
    assert Scheduler(18, [1], T0).max_age >= 60.0  # never promises less than a minute


def test_every_slot_is_used_and_every_row_is_asked_at_least_as_a_round_robin_would() -> None:
    """Idle rows with nothing predicted: the sweep asks them in turn, using every slot."""
    sched = Scheduler(18, range(1, 11), T0)
    asked = drive(sched, lambda pid, now: "active", T0, 1800)
    assert sum(len(v) for v in asked.values()) >= 1800 / SLOT - 2
    for pid in range(1, 11):
        assert max_gap(asked[pid], T0 + 60, T0 + 1800) <= 10 * SLOT + 1, pid


def test_the_sweep_keeps_its_share_when_targets_want_everything() -> None:
    """Twenty running rows want far more than the budget: the idle rows are still swept
    at the guaranteed share, oldest first, well within max_age."""
    ids = list(range(1, 41))
    sched = Scheduler(18, ids, T0)
    asked = drive(sched, lambda pid, now: "running" if pid <= 20 else "active", T0, 3 * 3600)
    idle = range(21, 41)
    idle_asks = sum(len(asked[pid]) for pid in idle)
    total = sum(len(v) for v in asked.values())
    assert idle_asks >= SWEEP_SHARE * total * 0.4  # idle rows are half the list
    for pid in idle:
        assert max_gap(asked[pid], T0 + 600, T0 + 3 * 3600) <= sched.sweep_cycle + SLOT, pid


def test_quiet_and_predicted_rows_are_swept_last() -> None:
    """A disabled row changes only by hand: the sweep asks the unpredictable rows first,
    and the disabled one only when it is a whole sweep cycle old."""
    sched = Scheduler(18, range(1, 31), T0)
    asked = drive(sched, lambda pid, now: "not_active" if pid == 1 else "active", T0, 3600)
    busiest_idle = min(len(asked[pid]) for pid in range(2, 31))
    assert len(asked[1]) < busiest_idle
    assert max_gap(asked[1], T0 + 60, T0 + 3600) <= sched.max_age


def test_busy_pipelines_are_asked_more_often_than_idle_ones() -> None:
    busy = {1: "running", 2: "scheduled", 3: "building_tables"}
    sched = Scheduler(18, range(1, 31), T0)
    asked = drive(sched, lambda pid, now: busy.get(pid, "active"), T0, 2 * 3600)
    idle_counts = sorted(len(asked[pid]) for pid in range(4, 31))
    median_idle = idle_counts[len(idle_counts) // 2]
    for pid in busy:
        assert len(asked[pid]) >= 1.8 * median_idle, (pid, len(asked[pid]), median_idle)


def test_disabled_pipelines_are_asked_least() -> None:
    sched = Scheduler(18, range(1, 11), T0)
    statuses = {1: "not_active", 2: "too_many_consecutive_failed_builds__blocked"}
    asked = drive(sched, lambda pid, now: statuses.get(pid, "active"), T0, 3600)
    assert len(asked[1]) < min(len(asked[pid]) for pid in range(3, 11))
    assert len(asked[2]) < min(len(asked[pid]) for pid in range(3, 11))


def test_no_pipeline_starves_under_heavy_demand() -> None:
    """Many running pipelines want far more than the budget: every row still stays fresh."""
    ids = list(range(1, 61))
    statuses = {pid: "running" for pid in ids[:20]} | {pid: "not_active" for pid in ids[50:]}
    sched = Scheduler(18, ids, T0)
    hours = 6 * 3600
    asked = drive(sched, lambda pid, now: statuses.get(pid, "active"), T0, hours)
    start = T0 + sched.max_age  # after the first look at everything
    for pid in ids:
        assert max_gap(asked[pid], start, T0 + hours) <= sched.max_age, pid


def test_focus_is_asked_often() -> None:
    sched = Scheduler(18, range(1, 21), T0)
    sched.focus(7, pinned=True)  # its detail screen is open: interest without a key
    asked = drive(sched, lambda pid, now: "active", T0, 1800)
    assert max_gap(asked[7][1:], asked[7][1], T0 + 1800) <= FOCUS_INTERVAL + 2 * SLOT
    assert len(asked[7]) > 5 * len(asked[8])
    sched.focus(None)
    assert sched.focused is None


def test_request_now_goes_first_even_during_backoff() -> None:
    sched = Scheduler(18, [1, 2, 3], T0)
    for pid in (1, 2, 3):
        sched.observed(PipelineStatus(pid, "active"), T0)
    sched.failed(2, T0 + 1)
    assert sched.pick(T0 + 2) is None  # nothing due (the sweep waits SWEEP_MIN_GAP)
    sched.request_now(2, T0 + 2)
    pick = sched.pick(T0 + 2)
    # a person's key press: the budget's reserve, not the queue of automatic traffic
    assert pick is not None and pick.pipeline_id == 2 and pick.priority is Priority.INTERACTIVE
    sched.observed(PipelineStatus(2, "active"), T0 + 3)
    assert sched.pick(T0 + 4) is None  # the request was answered


def test_only_explicit_requests_go_while_held() -> None:
    sched = Scheduler(18, [1, 2, 3], T0)
    sched.observed(PipelineStatus(1, "active"), T0)
    sched.request_now(2, T0 + 1, Priority.BACKGROUND)  # a routine re-ask
    assert sched.pick(T0 + 1, only=Priority.INTERACTIVE) is None  # 3 is new, 2 routine
    sched.request_now(1, T0 + 2)
    pick = sched.pick(T0 + 2, only=Priority.INTERACTIVE)
    assert pick is not None and (pick.pipeline_id, pick.priority) == (1, Priority.INTERACTIVE)
    sched.request_now(2, T0 + 3)  # a key press raises a routine request's priority
    sched.observed(PipelineStatus(1, "active"), T0 + 3)
    pick = sched.pick(T0 + 3, only=Priority.INTERACTIVE)
    assert pick is not None and (pick.pipeline_id, pick.priority) == (2, Priority.INTERACTIVE)


def test_probe_candidate_prefers_the_pipeline_answered_last() -> None:
    sched = Scheduler(18, [1, 2, 3, 4], T0)
    assert sched.probe_candidate(exclude=[1]) == 2  # none worked yet: any other one
    sched.observed(PipelineStatus(2, "active"), T0)
    sched.observed(PipelineStatus(3, "active"), T0 + 5)
    sched.failed(3, T0 + 9, "refused")
    assert sched.probe_candidate() == 2  # 3 answered later, but fails now
    sched.forgive(3)
    assert sched.probe_candidate() == 3
    assert sched.tracked(3) is not None and sched.tracked(3).backoff.retry_at is None  # type: ignore[union-attr]
    assert sched.probe_candidate(exclude=[1, 2, 3, 4]) is None


def test_follow_asks_every_few_seconds_then_tapers_and_stops_when_settled() -> None:
    sched = Scheduler(18, range(1, 11), T0)
    for pid in range(1, 11):
        sched.observed(PipelineStatus(pid, "active"), T0)
    sched.follow(3, T0)

    def status(pid: int, now: float) -> str:
        if pid == 3 and T0 + 20 <= now < T0 + 400:
            return "running"
        return "active"

    asked = drive(sched, status, T0, 900, slot=1.25)
    follow_asks = asked[3]
    first_minute = [t for t in follow_asks if t < T0 + 60]
    assert max_gap(first_minute, T0, T0 + 60) <= 3.0 + 1.25
    minutes_two_three = [t for t in follow_asks if T0 + 60 <= t < T0 + 180]
    assert len(minutes_two_three) < 2 * len(first_minute) and len(minutes_two_three) >= 10
    assert all(p.priority for p in [sched.pick(T0 + 900)] if p)
    assert not sched.following(3)  # seen running, then idle: settled
    seen_idle_again = min(t for t in follow_asks if t >= T0 + 400)
    assert seen_idle_again - (T0 + 400) <= 60  # the end of the user's run is seen soon


def test_follow_uses_follow_priority() -> None:
    sched = Scheduler(18, [1, 2], T0)
    sched.observed(PipelineStatus(1, "active"), T0)
    sched.observed(PipelineStatus(2, "active"), T0)
    sched.follow(1, T0)
    pick = sched.pick(T0 + 5)
    assert pick is not None and (pick.pipeline_id, pick.priority) == (1, Priority.FOLLOW)


def test_per_pipeline_backoff_is_exponential_capped_and_reset_by_an_answer() -> None:
    sched = Scheduler(18, [1, 2], T0)
    now = T0
    delays = []
    for _ in range(8):
        retry = sched.failed(1, now)
        delays.append(retry - now)
        now = retry
    base = PIPELINE_BACKOFF_BASE
    assert delays[:3] == [base, 2 * base, 4 * base]
    assert max(delays) == PIPELINE_BACKOFF_CAP
    assert sched.due_at(1, now - 1) >= now  # not asked before the retry time
    pick = sched.pick(now - 1)
    assert pick is not None and pick.pipeline_id == 2  # the others go on
    sched.observed(PipelineStatus(1, "active"), now)
    assert sched.failed(1, now + 1) - (now + 1) == PIPELINE_BACKOFF_BASE


def test_global_backoff_has_jitter_and_a_cap() -> None:
    backoff = Backoff(2.0, 120.0, jitter=0.5, rng=random.Random(3))
    delays = [backoff.fail(0.0) for _ in range(12)]
    for n, delay in enumerate(delays):
        full = min(120.0, 2.0 * 2**n)
        assert full * 0.5 <= delay <= full
    assert len(set(delays)) == len(delays)  # jittered
    assert backoff.waiting(delays[-1] - 1) and not backoff.waiting(delays[-1])
    backoff.reset()
    assert backoff.retry_at is None and backoff.fail(0.0) <= 2.0


def hourly_starts(count: int, seed: int = 1, skip: frozenset[int] = frozenset()) -> list[float]:
    rng = random.Random(seed)
    return [T0 + k * 3600 + 600 + rng.uniform(0, 60) for k in range(count) if k not in skip]


def test_rhythm_learns_the_period_despite_missed_and_manual_runs() -> None:
    rhythm = Rhythm()
    starts = hourly_starts(10, skip=frozenset({3, 6}))

    def run_at(at: float) -> None:
        rhythm.run_started(Window(at - 40, at + 5))
        rhythm.run_ended(Window(at + 300, at + 330))
        rhythm.saw_idle(at + 1800)  # looked half-way to the next slot: nothing there
        rhythm.saw_idle(at + 2400)

    for at in starts[:5]:
        run_at(at)
    manual = starts[4] + 1500
    rhythm.run_started(Window(manual - 30, manual))  # someone pressed RUN in the app
    rhythm.run_ended(Window(manual + 300, manual + 320))
    for at in starts[5:]:
        run_at(at)
    period = rhythm.period()
    assert period == pytest.approx(3600, abs=15)
    upcoming = T0 + 10 * 3600 + 600 + 30
    window = rhythm.next_start(starts[-1] + 400)
    assert window is not None
    assert window.start <= upcoming <= window.end
    assert window.end - window.start < 400


def test_rhythm_predicts_the_end_of_a_run() -> None:
    rhythm = Rhythm()
    for at in hourly_starts(4):
        rhythm.run_started(Window(at - 10, at))
        rhythm.run_ended(Window(at + 350, at + 360))
    assert rhythm.run_end() is None  # no run in progress
    rhythm.run_started(Window(T0 + 20 * 3600, T0 + 20 * 3600 + 10))
    end = rhythm.run_end()
    assert end is not None and end.start < T0 + 20 * 3600 + 355 < end.end


def test_rhythm_checks_half_way_before_trusting_a_long_period() -> None:
    """Runs seen every other slot fit twice the period: the half-way slots are looked at."""
    rhythm = Rhythm()
    for k in range(4):
        at = T0 + k * 1800
        rhythm.run_started(Window(at - 10, at))
        rhythm.run_ended(Window(at + 60, at + 70))
    assert rhythm.period() == pytest.approx(1800, abs=5)
    last = T0 + 3 * 1800
    probe = rhythm.next_start(last + 200)
    assert probe is not None and probe.start < last + 900 < probe.end
    for k in range(2):  # two half-way windows looked at, no run there
        centre = last + 900 + k * 1800
        rhythm.saw_idle(centre)
        rhythm.saw_idle(centre + 400)
    assert rhythm.probe_misses == 2
    nxt = rhythm.next_start(last + 200)
    assert nxt is not None and nxt.start < last + 1800 < nxt.end


def test_rhythm_moves_polls_to_the_expected_start() -> None:
    """Short hourly runs among many idle pipelines: once learned, nearly every run is seen."""
    run_seconds = 90.0
    ids = list(range(1, 41))
    slot_offset = 1234.0
    rng = random.Random(5)
    jitter = {k: rng.uniform(0, 60) for k in range(16)}

    def status(pid: int, now: float) -> str:
        if pid != 1:
            return "active"
        k = int((now - T0 - slot_offset) // 3600)
        start = T0 + slot_offset + k * 3600 + jitter.get(k, 0)
        return "running" if start <= now < start + run_seconds else "active"

    sched = Scheduler(18, ids, T0)
    asked = drive(sched, status, T0, 14 * 3600)
    seen = {int((t - T0 - slot_offset) // 3600) for t in asked[1] if status(1, t) == "running"}
    late_runs = set(range(7, 13))
    assert len(seen & late_runs) >= 0.8 * len(late_runs), sorted(seen)
    rhythm = sched.tracked(1)
    assert rhythm is not None and rhythm.rhythm.period() == pytest.approx(3600, abs=30)


def test_learning_from_recorded_transitions() -> None:
    sched = Scheduler(18, [9], T0)
    history = []
    for at in hourly_starts(6):
        history.append(Transition(9, at, "active", "running", previous_seen_at=at - 30))
        history.append(Transition(9, at + 400, "running", "active", previous_seen_at=at + 380))
    sched.learn(9, history)
    tracked = sched.tracked(9)
    assert tracked is not None
    assert tracked.rhythm.period() == pytest.approx(3600, abs=15)
    assert len(tracked.rhythm.durations) == 6


def test_seeded_history_asks_the_likeliest_changed_first() -> None:
    sched = Scheduler(18, [1, 2, 3, 4], T0)
    old = T0 - 3600
    sched.seed(PipelineStatus(1, "active"), old, old - 100)
    sched.seed(PipelineStatus(2, "running"), old, old - 100)
    sched.seed(PipelineStatus(3, "not_active"), old, old - 100)
    pick = sched.pick(T0)
    assert pick is not None and pick.pipeline_id == 4  # never seen at all
    sched.observed(PipelineStatus(4, "active"), T0)
    pick = sched.pick(T0 + 1)
    assert pick is not None and pick.pipeline_id == 2  # was running an hour ago


def test_since_is_when_the_status_was_first_seen() -> None:
    sched = Scheduler(18, [1], T0)
    assert sched.observed(PipelineStatus(1, "active"), T0) == T0
    assert sched.observed(PipelineStatus(1, "active"), T0 + 30) == T0
    assert sched.observed(PipelineStatus(1, "running"), T0 + 60) == T0 + 60
    assert sched.observed(PipelineStatus(1, "running", raw_msg="slow"), T0 + 90) == T0 + 60


def test_set_pipelines_keeps_what_is_known() -> None:
    sched = Scheduler(18, [1, 2], T0)
    sched.observed(PipelineStatus(1, "running"), T0)
    sched.focus(2)
    sched.set_pipelines([1, 3], T0 + 1)
    assert sched.pipeline_ids == [1, 3]
    tracked = sched.tracked(1)
    assert tracked is not None and tracked.status is not None
    assert sched.focused is None  # the focused pipeline left the list
    pick = sched.pick(T0 + 2)
    assert pick is not None and pick.pipeline_id == 3
