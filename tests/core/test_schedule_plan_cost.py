"""`Scheduler.plan` keeps an index of the rows whose due time stays put, instead of
walking the whole list each turn. It must choose exactly what the plain walk
(`plan_walk`) chooses, and say the same next due time, at every step, whatever happens:
seeded random walks over every kind of event, in virtual time, checked step by step."""

from __future__ import annotations

import math
import random

import pytest

from kondado_tui.core.clock import ManualClock
from kondado_tui.core.history.timeline import Transition
from kondado_tui.core.models import PipelineStatus, Priority
from kondado_tui.core.scheduling import ACTIVE_MEMORY, Pick, Scheduler, background_rate
from kondado_tui.core.sim import SimWorld

STATUSES = (
    "active",
    "running",
    "scheduled",
    "building_tables",
    "not_active",
    "too_many_consecutive_failed_builds__blocked",
    "error_building_tables",
    "active",
    "active",
    "running",
)
T0 = 1_790_000_000.0


def hourly_history(pid: int, rng: random.Random, runs: int) -> list[Transition]:
    """Recorded runs on a schedule (some with a message), so the row has a rhythm."""
    period = rng.choice([900.0, 1800.0, 3600.0, 7200.0])
    offset = rng.uniform(0.0, period)
    history = []
    for k in range(runs):
        at = T0 - (runs - k) * period + offset + rng.uniform(-20.0, 20.0)
        history.append(
            Transition(pid, at, "active", "running", previous_seen_at=at - rng.uniform(5.0, 90.0))
        )
        end = at + rng.uniform(60.0, 0.4 * period)
        history.append(
            Transition(pid, end, "running", "active", previous_seen_at=end - rng.uniform(5.0, 60.0))
        )
    return history


def check(
    scheduler: Scheduler, now: float, only: Priority | None = None
) -> tuple[Pick | None, float | None]:
    """`plan` against `plan_walk`; then, beyond the answer, the index itself (private, on
    purpose): every steady row's kept interval and sweep order are what the scheduler
    works out now, and it is filed as due exactly when it is."""
    answer = scheduler.plan(now, only)
    assert answer == scheduler.plan_walk(now, only), f"at {now - T0:.6f}"
    index = scheduler._index
    for pid, (_, interval, predictable) in index.steady.items():
        tracked = scheduler.tracked(pid)
        assert tracked is not None and tracked.asked_at is not None
        assert interval == scheduler.interval(pid, now), (pid, now - T0)
        assert predictable == scheduler._predictable(tracked, now), (pid, now - T0)
        assert (pid in index._due) == (now >= tracked.asked_at + interval)
    return answer


def walk(seed: int, steps: int, size: int, per_minute: float = 18) -> int:
    """Drive one scheduler through `steps` random events; after each, `plan` and
    `plan_walk` must agree (also held: `only=INTERACTIVE`). Returns the picks made."""
    rng = random.Random(seed)
    ids = list(range(1, size + 1))
    scheduler = Scheduler(per_minute=per_minute, pipeline_ids=ids, now=T0)
    for pid in ids:
        roll = rng.random()
        if roll < 0.3:
            scheduler.learn(pid, hourly_history(pid, rng, rng.randint(3, 8)))
        if roll < 0.85:
            status = rng.choice(STATUSES)
            seen = T0 - rng.uniform(0.0, 2.0 * scheduler.sweep_cycle)
            scheduler.seed(
                PipelineStatus(
                    pid,
                    status,
                    is_running=status == "running",
                    raw_msg=rng.choice([None, None, "warning"]),
                ),
                seen,
                seen - rng.uniform(0.0, 3600.0),
            )
    now = T0
    picks = 0
    next_id = size + 1
    for _ in range(steps):
        roll = rng.random()
        pid = rng.choice(ids)
        if roll < 0.04:  # the clock jumps ahead: windows, spells, follow-ups run out
            now += rng.choice([60.0, 600.0, 3600.0, ACTIVE_MEMORY, rng.uniform(0, 20000)])
        elif roll < 0.045:  # ... or back (a wall clock set back)
            now -= rng.uniform(0.0, 120.0)
        else:
            now += rng.choice([0.0, rng.uniform(0.0, 8.0), rng.uniform(0.0, 60.0)])
        pick, _ = check(scheduler, now)
        if pick is not None and rng.random() < 0.8:  # the poller asks the pick
            picks += 1
            pid = pick.pipeline_id
            scheduler.asking(pid, pick.priority, now)
            if rng.random() < 0.1:
                scheduler.failed(pid, now, "unreadable answer")  # its own backoff
            else:
                status = rng.choice(STATUSES)
                scheduler.observed(
                    PipelineStatus(
                        pid,
                        status,
                        is_running=status == "running",
                        raw_msg=rng.choice([None, None, None, "error: x"]),
                    ),
                    now,
                )
            continue
        event = rng.random()
        if event < 0.3:
            status = rng.choice(STATUSES)
            scheduler.asking(pid, rng.choice(list(Priority)), now)
            scheduler.observed(PipelineStatus(pid, status, is_running=status == "running"), now)
        elif event < 0.4:
            scheduler.asking(pid, Priority.BACKGROUND, now)
            scheduler.failed(pid, now, "unreadable answer")
        elif event < 0.45:
            scheduler.forgive(pid)
        elif event < 0.55:
            scheduler.request_now(pid, now, rng.choice(list(Priority)))
        elif event < 0.61:  # a cursor moves; or a detail screen opens (pinned)
            scheduler.focus(
                rng.choice([None, pid, pid]), pinned=rng.random() < 0.3, watcher=watcher(rng)
            )
        elif event < 0.65:  # a key press: the selected row counts for a few minutes
            scheduler.user_active(now, watcher(rng))
        elif event < 0.66:  # a collector's viewer leaves; or pauses some of the list
            scheduler.forget_watcher(watcher(rng))
        elif event < 0.67:
            scheduler.hold(rng.sample(ids, rng.randint(0, len(ids))))
        elif event < 0.72:
            scheduler.follow(pid, now)
        elif event < 0.75:
            scheduler.learn(pid, hourly_history(pid, rng, rng.randint(1, 5)))
        elif event < 0.78:  # the list reloaded: some gone, some new, order shuffled
            rng.shuffle(ids)
            keep = ids[: rng.randint(max(1, len(ids) - 5), len(ids))]
            ids = [*keep, *range(next_id, next_id + rng.randint(0, 3))]
            next_id = max(ids) + 1
            scheduler.set_pipelines(ids, now)
        elif event < 0.785:  # the same list again
            scheduler.set_pipelines(scheduler.pipeline_ids, now)
        elif event < 0.79:
            scheduler.per_minute = rng.choice([6, 12, 18])
        assert check(scheduler, now, only=Priority.INTERACTIVE)[1] is None
    return picks


def watcher(rng: random.Random) -> str:
    """This dashboard, or one of a collector's viewers (their cursors count alike)."""
    return rng.choice(["", "", "viewer 1", "viewer 2"])


@pytest.mark.parametrize(
    ("seed", "size", "steps"),
    [(1, 12, 4000), (2, 60, 4000), (3, 250, 2000), (4, 5, 4000), (5, 40, 4000)],
)
def test_plan_chooses_what_the_plain_walk_chooses(seed: int, size: int, steps: int) -> None:
    picks = walk(seed, steps=steps, size=size)
    assert picks > steps / 4  # the walk asked a lot, not just sat idle


def test_plan_agrees_with_next_due_at_after_long_idle_spells() -> None:
    """Hours with nothing asked: every steady spell ends, rows come due in bulk."""
    scheduler = Scheduler(per_minute=18, pipeline_ids=range(1, 41), now=T0)
    rng = random.Random(9)
    for pid in range(1, 41):
        scheduler.learn(pid, hourly_history(pid, rng, 6))
        scheduler.seed(PipelineStatus(pid, rng.choice(STATUSES)), T0 - pid, T0 - 600)
    for hours in range(0, 30):
        now = T0 + hours * 3600.0 + rng.uniform(0.0, 10.0)
        _, due = check(scheduler, now)
        assert due == scheduler.next_due_at(now)


# 8246.02...: `changed_at + ACTIVE_MEMORY` rounds up, past the first instant at which
# `now - changed_at` reaches ACTIVE_MEMORY (found by search; most times round exactly)
@pytest.mark.parametrize("changed_at", [10.0, 0.1, 8246.020681928412, T0 + 10.3])
def test_a_row_is_watched_until_the_very_moment_its_change_is_forgotten(
    changed_at: float,
) -> None:
    """A row seen changing has a round robin's interval for ACTIVE_MEMORY, then only the
    sweep's: the plan must switch at the same instant as the walk, to the last float
    (`now - changed_at` rounds; the index predicts the moment only to within that)."""
    scheduler = Scheduler(per_minute=18, pipeline_ids=[1, 2], now=changed_at - 20)
    scheduler.observed(PipelineStatus(1, "running"), changed_at - 20)
    scheduler.observed(PipelineStatus(1, "active"), changed_at)  # a change: watched
    end = changed_at + ACTIVE_MEMORY
    for pid in (1, 2):  # asked lately (not stale), row 1 due while watched
        scheduler.asking(pid, Priority.INTERACTIVE, end - 9)
        scheduler.observed(PipelineStatus(pid, "active"), end - 9)
    instants = {end + k / 8.0 for k in range(-16, 17)}
    near = end - 32 * math.ulp(end)
    for _ in range(64):  # every float around the end
        instants.add(near)
        near = math.nextafter(near, math.inf)
    reasons = set()
    for now in sorted(instants):
        pick, _ = check(scheduler, now)
        reasons.add(pick.reason if pick else None)
    assert reasons == {"due", "sweep"}  # watched, then not: the test sees the switch


def test_rows_with_a_rhythm_switch_at_the_edges_of_their_start_windows() -> None:
    """An idle row with a learned rhythm waits for its next start window, is watched
    inside it (both ends included) and not after: the plan must switch exactly at each
    edge, so it is asked there, nowhere else, with nothing else happening."""
    rng = random.Random(5)
    ids = list(range(1, 9))
    # a long, quiet list: no row goes stale (or is owed the sweep) in the hours looked at
    scheduler = Scheduler(per_minute=18, pipeline_ids=range(1, 1001), now=T0)
    for pid in range(9, 1001):
        scheduler.seed(PipelineStatus(pid, "not_active"), T0, T0 - 3600.0)
    for pid in ids:
        scheduler.learn(pid, hourly_history(pid, rng, 8))
        scheduler.observed(PipelineStatus(pid, "active"), T0 - rng.uniform(0.0, 5.0))
    edges = []
    for pid in ids:
        tracked = scheduler.tracked(pid)
        assert tracked is not None and tracked.asked_at is not None
        start = tracked.rhythm.next_start(tracked.asked_at)
        assert start is not None  # the history taught every row a rhythm
        edges += [start.start, start.end]
    assert T0 + scheduler.sweep_cycle > max(edges)
    instants = sorted(
        {e + d for e in edges for d in (-1.0, 0.0)}
        | {math.nextafter(e, side) for e in edges for side in (-math.inf, math.inf)}
    )
    switched = 0
    for now in instants:
        pick, _ = check(scheduler, now)
        switched += pick is not None and pick.reason == "due"
    assert switched >= 8  # rows were due (inside their windows) when the test looked


@pytest.mark.parametrize(("seed", "size"), [(7, 30), (11, 80)])
def test_plan_chooses_what_the_walk_chooses_over_the_simulated_world(seed: int, size: int) -> None:
    """Real lifecycles (runs of every length on schedules, failures, blocked and disabled
    pipelines) asked as the poller asks them, plus the user's runs: several simulated
    hours, the two plans compared at every turn."""
    clock = ManualClock(T0)
    world = SimWorld(pipelines=size, seed=seed, clock=clock)
    ids = world.pipeline_ids
    scheduler = Scheduler(per_minute=18, pipeline_ids=ids, now=T0)
    rng = random.Random(seed)
    pace = 1.0 / background_rate(18)
    kinds = set()
    while clock.now() < T0 + 6 * 3600.0:
        now = clock.now()
        pick, due = check(scheduler, now)
        if pick is not None:
            kinds.add(pick.reason)
            entry = world.status(pick.pipeline_id)
            scheduler.asking(pick.pipeline_id, pick.priority, now)
            scheduler.observed(
                PipelineStatus(
                    pick.pipeline_id,
                    entry["status"],
                    is_running=entry["is_running"],
                    raw_msg=entry["raw_msg"],
                ),
                now,
            )
        roll = rng.random()
        if roll < 0.002:  # the user runs one and watches it
            pid = rng.choice(ids)
            world.run(pid)
            scheduler.follow(pid, now)
            scheduler.request_now(pid, now)
        elif roll < 0.015:
            scheduler.focus(rng.choice([None, *ids]), pinned=rng.random() < 0.2)
        elif roll < 0.02:
            scheduler.user_active(now)
        clock.set(now + (pace if pick is not None else min(pace, max(0.1, (due or now) - now))))
    assert {"first look", "sweep", "due", "requested"} <= kinds


def test_a_run_is_kept_steady_only_once_its_interval_stops_growing() -> None:
    """A run's interval grows with its length, in three branches (shorter than any run
    seen, within the usual lengths, longer than any): the index keeps it only at the
    most its branch gives (or at the cap), and files it again when the branch changes."""
    ids = list(range(1, 41))  # long enough that most runs' intervals are below the cap
    scheduler = Scheduler(per_minute=18, pipeline_ids=ids, now=T0)
    for pid in ids[3:]:
        scheduler.observed(PipelineStatus(pid, "not_active"), T0)
    now = T0
    for pid, lengths in ((1, (20.0, 30.0)), (2, (150.0, 200.0)), (3, (600.0, 900.0))):
        for length in lengths:  # runs seen start and end (seen to the second)
            scheduler.observed(PipelineStatus(pid, "active"), now)
            scheduler.observed(PipelineStatus(pid, "running", is_running=True), now + 1.0)
            scheduler.observed(PipelineStatus(pid, "active"), now + 1.0 + length)
            now += 3600.0
    start = now
    for pid in (1, 2, 3):
        scheduler.observed(PipelineStatus(pid, "active"), start - 1.0)
        scheduler.observed(PipelineStatus(pid, "running", is_running=True), start)
    edges = []
    for pid in (1, 2, 3):
        tracked = scheduler.tracked(pid)
        assert tracked is not None
        end = tracked.rhythm.run_end()
        assert end is not None
        edges += [
            math.nextafter(e, side) for e in (end.start, end.end) for side in (-math.inf, math.inf)
        ] + [end.start, end.end]
    instants = sorted({start + k / 2.0 for k in range(3000)} | set(edges))
    for now in instants:
        check(scheduler, now)
    # and the runs, at their longest intervals now, are no longer worked out every turn
    assert {1, 2, 3} <= scheduler._index.steady.keys()


def test_ties_go_to_the_first_row_in_the_list_even_after_it_is_reordered() -> None:
    """Rows asked at the same instant, in the same state, tie everywhere: the walk takes
    the first in list order, and so must the index, after the list is reordered too."""
    ids = [5, 3, 9, 1]
    scheduler = Scheduler(per_minute=18, pipeline_ids=ids, now=T0)
    for pid in ids:
        scheduler.observed(PipelineStatus(pid, "active"), T0)
    for order in (ids, ids[::-1], [9, 5, 1, 3]):
        scheduler.set_pipelines(order, T0 + 60)
        pick, _ = check(scheduler, T0 + 60)
        assert pick is not None and pick.pipeline_id == order[0]
