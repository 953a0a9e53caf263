"""`Scheduler.plan` gives both answers the poller needs at once: what to ask now, and
when the next pipeline is due. The second answer must be exactly what `next_due_at`
says, in every state a row can be in (virtual time). (That `plan` also chooses what the
plain walk chooses: test_schedule_plan_cost.py.)"""

from __future__ import annotations

import random

from kondado_tui.core.models import PipelineStatus, Priority
from kondado_tui.core.scheduling import Scheduler

STATUSES = (
    "active",
    "running",
    "scheduled",
    "building_tables",
    "not_active",
    "too_many_consecutive_failed_builds",
    "error_building_tables",
    "active",
)


def test_plan_says_when_the_next_is_due_as_next_due_at_does() -> None:
    rng = random.Random(3)
    ids = list(range(1, 61))
    scheduler = Scheduler(per_minute=18, pipeline_ids=ids, now=0.0)
    now = 0.0
    checked = 0
    for _ in range(3000):
        now += rng.uniform(0.0, 7.0)
        roll = rng.random()
        pid = rng.choice(ids)
        if roll < 0.45:
            status = rng.choice(STATUSES)
            scheduler.asking(pid, Priority.BACKGROUND, now)
            scheduler.observed(PipelineStatus(pid, status, is_running=status == "running"), now)
        elif roll < 0.55:
            scheduler.asking(pid, Priority.BACKGROUND, now)
            scheduler.failed(pid, now, "unreadable answer")  # its own backoff
        elif roll < 0.60:
            scheduler.request_now(pid, now, rng.choice(list(Priority)))
        elif roll < 0.62:
            who = rng.choice(["", "viewer"])
            scheduler.focus(rng.choice([None, pid]), pinned=rng.random() < 0.3, watcher=who)
        elif roll < 0.65:
            scheduler.user_active(now, rng.choice(["", "viewer"]))
        elif roll < 0.66:
            scheduler.hold(rng.sample(ids, rng.randint(0, 20)))
        elif roll < 0.70:
            scheduler.follow(pid, now)
        elif roll < 0.72:
            rng.shuffle(ids)
            scheduler.set_pipelines([*ids[: rng.randint(40, 60)], 1000 + checked], now)
        pick, due = scheduler.plan(now)
        assert due == scheduler.next_due_at(now), f"at {now:.1f}"
        assert pick == scheduler.pick(now)  # the same choice as before
        assert scheduler.plan(now, only=Priority.INTERACTIVE)[1] is None  # held: no wait
        checked += 1
    assert checked == 3000


def test_an_empty_list_has_nothing_due() -> None:
    scheduler = Scheduler(per_minute=18, pipeline_ids=[], now=0.0)
    assert scheduler.plan(10.0) == (None, None)
    assert scheduler.next_due_at(10.0) is None
