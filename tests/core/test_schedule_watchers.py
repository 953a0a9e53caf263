"""One schedule for a collector and its viewers (virtual time): every dashboard's cursor
counts as that dashboard's interest, and a list paused by everyone watching it is asked
only on a key press."""

from __future__ import annotations

from test_schedule import SLOT, T0, drive, max_gap

from kondado_tui.core.models import PipelineStatus, Priority
from kondado_tui.core.scheduling import FOCUS_ATTENTION, FOCUS_INTERVAL, Scheduler

IDS = list(range(1, 21))
CLOSE = FOCUS_INTERVAL + 2 * SLOT


def idle(pid: int, now: float) -> str:
    return "active"


def test_each_viewers_cursor_is_interest_while_that_viewer_is_active() -> None:
    sched = Scheduler(18, IDS, T0)
    drive(sched, idle, T0, 600)  # first looks done
    start = T0 + 600
    sched.focus(3)  # this dashboard's cursor, left alone
    sched.focus(5, watcher="viewer a")
    sched.focus(7, pinned=True, watcher="viewer b")  # a detail screen open there
    assert sched.user_active(start, "viewer a")
    assert not sched.attended(start) and sched.attended(start, "viewer a")
    asked = drive(sched, idle, start, FOCUS_ATTENTION)
    others = max(len(asked[pid]) for pid in IDS if pid not in (3, 5, 7))
    for pid in (5, 7):  # both close, as far as the sweep's guarantee to the rest allows
        assert len(asked[pid]) >= FOCUS_ATTENTION / CLOSE, pid
        assert len(asked[pid]) >= 4 * others, pid
    assert len(asked[3]) <= others  # nobody is at this dashboard: its row gets its share
    alone = Scheduler(18, IDS, T0)  # one viewer's cursor alone: as close as ever
    drive(alone, idle, T0, 600)
    alone.focus(5, watcher="viewer a")
    alone.user_active(start, "viewer a")
    mine = drive(alone, idle, start, FOCUS_ATTENTION)[5]
    assert max_gap(mine, start, start + FOCUS_ATTENTION) <= CLOSE


def test_a_viewer_that_left_no_longer_counts() -> None:
    sched = Scheduler(18, IDS, T0)
    drive(sched, idle, T0, 600)
    start = T0 + 600
    sched.focus(7, pinned=True, watcher="viewer b")
    assert sched.interval(7, start) == FOCUS_INTERVAL
    sched.forget_watcher("viewer b")
    assert sched.interval(7, start) == sched.interval(8, start)
    sched.forget_watcher("")  # this dashboard's own watcher stays
    sched.focus(8)
    assert sched.focused == 8


def test_a_cursor_on_a_row_that_left_the_list_is_dropped_for_every_watcher() -> None:
    sched = Scheduler(18, IDS, T0)
    sched.focus(20, pinned=True, watcher="viewer")
    sched.set_pipelines(IDS[:10], T0)
    sched.set_pipelines(IDS, T0)
    assert not sched.attended(T0, "viewer")


def test_held_rows_are_asked_only_on_a_key_press() -> None:
    sched = Scheduler(18, IDS, T0)
    held = set(IDS[10:])
    sched.hold(held)
    asked = drive(sched, idle, T0, 1800)
    assert not held & set(asked)  # never asked, not even a first look
    assert all(asked[pid] for pid in IDS[:10])
    now = T0 + 1800
    assert sched.next_due_at(now) is not None
    sched.request_now(15, now, Priority.FOLLOW)  # a follow-up is not a person
    assert sched.pick(now + 100) is None or sched.pick(now + 100).pipeline_id != 15  # type: ignore[union-attr]
    sched.request_now(15, now, Priority.INTERACTIVE)  # "ask now" from a paused dashboard
    pick = sched.pick(now)
    assert pick is not None and pick.pipeline_id == 15 and pick.priority is Priority.INTERACTIVE
    sched.asking(15, Priority.INTERACTIVE, now)
    sched.observed(PipelineStatus(15, "active"), now)
    sched.hold(())  # resumed: they come back with what was known of them
    assert sched.tracked(15) is not None and sched.tracked(15).observed_at == now  # type: ignore[union-attr]
    later = drive(sched, idle, now, 1800)
    assert held <= set(later)
