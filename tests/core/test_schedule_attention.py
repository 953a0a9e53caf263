"""The selected row counts as interest only while someone is there (virtual time).

A cursor resting on the top row of a dashboard nobody touches must not take more than
its share of the budget; a key press makes it interesting for `FOCUS_ATTENTION`, and an
open detail screen (`pinned`) for as long as it is open. Nothing fires when attention
lapses: the plan reads it off the clock.
"""

from __future__ import annotations

from test_schedule import SLOT, T0, drive, max_gap

from kondado_tui.core.scheduling import FOCUS_ATTENTION, FOCUS_INTERVAL, Scheduler

IDS = list(range(1, 21))  # the dashboard: 20 pipelines, all idle
SELECTED = 1  # the cursor rests on the top row
HOUR = 3600.0
CLOSE = FOCUS_INTERVAL + 2 * SLOT  # asked at least this often while attended


def idle(pid: int, now: float) -> str:
    return "active"


def count(times: list[float], start: float, end: float) -> int:
    return sum(1 for at in times if start <= at < end)


def fair(asked: dict[int, list[float]], start: float, end: float) -> int:
    """The most any other row was asked in [start, end): the selected row's fair share."""
    return max(count(asked[pid], start, end) for pid in IDS if pid != SELECTED)


def test_an_untouched_cursor_gets_no_more_than_its_fair_share() -> None:
    sched = Scheduler(18, IDS, T0)
    sched.focus(SELECTED)  # the table opened with the cursor on the top row
    asked = drive(sched, idle, T0, HOUR)
    assert not sched.attended(T0 + HOUR)
    assert count(asked[SELECTED], T0, T0 + HOUR) <= fair(asked, T0, T0 + HOUR)
    assert sched.interval(SELECTED, T0 + HOUR) == sched.interval(2, T0 + HOUR)  # no boost


def test_after_the_activity_window_the_selected_row_is_back_to_its_share() -> None:
    sched = Scheduler(18, IDS, T0)
    sched.focus(SELECTED)
    asked = drive(sched, idle, T0, 20 * 60)  # first looks done, nobody there
    pressed = T0 + 20 * 60
    assert sched.user_active(pressed)  # a key: the selected row matters again
    asked_after = drive(sched, idle, pressed, HOUR)
    during = asked_after[SELECTED]
    assert during[0] - pressed <= 2 * SLOT  # asked at once, not at its next sweep turn
    window = [at for at in during if at < pressed + FOCUS_ATTENTION]
    assert max_gap(window, during[0], pressed + FOCUS_ATTENTION) <= CLOSE
    assert count(during, pressed, pressed + FOCUS_ATTENTION) >= FOCUS_ATTENTION / CLOSE - 1
    lapsed = pressed + FOCUS_ATTENTION + FOCUS_INTERVAL
    assert not sched.attended(lapsed)
    assert count(during, lapsed, pressed + HOUR) <= fair(asked_after, lapsed, pressed + HOUR)
    assert count(asked[SELECTED], T0, pressed) <= fair(asked, T0, pressed)


def test_each_key_press_extends_the_window() -> None:
    sched = Scheduler(18, IDS, T0)
    sched.focus(SELECTED)
    drive(sched, idle, T0, 10 * 60)
    first = T0 + 10 * 60
    assert sched.user_active(first)
    assert not sched.user_active(first + 120)  # already attended: nothing to re-plan
    assert sched.attended(first + FOCUS_ATTENTION + 60)  # counted from the last key
    assert not sched.attended(first + 120 + FOCUS_ATTENTION)


def test_an_open_detail_screen_keeps_the_boost_without_any_key() -> None:
    sched = Scheduler(18, IDS, T0)
    sched.focus(SELECTED)
    drive(sched, idle, T0, 10 * 60)
    opened = T0 + 10 * 60
    sched.user_active(opened)  # the key that opened it
    sched.focus(SELECTED, pinned=True)
    asked = drive(sched, idle, opened, HOUR)
    times = asked[SELECTED]
    open_for = [at for at in times if at < opened + HOUR]
    assert max_gap(open_for, times[0], opened + HOUR) <= CLOSE  # long after the key
    assert sched.attended(opened + HOUR)
    closed = opened + HOUR
    sched.focus(SELECTED)  # back on the table, the last key an hour ago
    assert not sched.attended(closed)
    after = drive(sched, idle, closed, HOUR)
    assert count(after[SELECTED], closed, closed + HOUR) <= fair(after, closed, closed + HOUR)


def test_moving_the_cursor_is_not_activity_but_the_boost_follows_it() -> None:
    sched = Scheduler(18, IDS, T0)
    drive(sched, idle, T0, 10 * 60)
    now = T0 + 10 * 60
    sched.focus(SELECTED)
    sched.focus(2)  # a re-sort or reload moved the cursor: no one pressed anything
    assert not sched.attended(now)
    assert sched.interval(2, now) > FOCUS_INTERVAL
    sched.user_active(now)
    sched.focus(3)  # the key moved the cursor: the new row is the interesting one
    assert sched.focused == 3 and sched.attended(now + 1)
    assert sched.interval(3, now + 1) == FOCUS_INTERVAL
    assert sched.interval(2, now + 1) > FOCUS_INTERVAL
    assert sched.interval(3, now + FOCUS_ATTENTION) > FOCUS_INTERVAL  # lapsed by itself
    sched.focus(None)
    assert not sched.attended(now + 1)  # nothing selected, nothing to boost
    assert not sched.user_active(now + 2)  # and nothing to re-plan
