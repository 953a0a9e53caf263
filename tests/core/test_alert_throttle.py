"""The alert command's caps, in virtual time: runs per minute, one per pipeline and
state in a while, what is over them held and coalesced, never lost or stale."""

from __future__ import annotations

from kondado_tui.core.alerts.payload import Delivery
from kondado_tui.core.alerts.throttle import Throttle
from kondado_tui.core.events import Alert, AlertKind
from kondado_tui.core.models import status_kind

T0 = 1_790_000_000.0


def trouble(pid: int, status: str = "error_building_tables", at: float = T0) -> Alert:
    return Alert(AlertKind.TROUBLE, pid, f"p{pid}", None, status_kind(status), "x", at)


def recovered(pid: int, at: float = T0) -> Alert:
    return Alert(AlertKind.RECOVERED, pid, f"p{pid}", None, status_kind("active"), None, at)


def ids(delivery: Delivery | str | None) -> list[int]:
    assert isinstance(delivery, Delivery), delivery
    return [a.pipeline_id for a in delivery.alerts]


def test_at_most_n_runs_in_any_minute_then_one_summary() -> None:
    t = Throttle(per_minute=3, repeat_after=0)
    assert [ids(t.offer(trouble(p), T0 + p)) for p in (1, 2, 3)] == [[1], [2], [3]]
    why = t.offer(trouble(4), T0 + 10)
    assert isinstance(why, str) and "ran 3 times in the last minute" in why
    assert "go out together in 51s" in why
    assert isinstance(t.offer(trouble(5), T0 + 20), str)
    assert t.held == 2
    assert t.due_at(T0 + 20) == T0 + 61  # the first run leaves the window
    assert t.flush(T0 + 60) is None
    summary = t.flush(T0 + 61)
    assert summary is not None and ids(summary) == [4, 5] and summary.held == 2
    assert summary.kind == "summary" and "at most 3 runs a minute" in summary.cap_words
    assert t.held == 0 and t.due_at(T0 + 61) is None
    # the summary was a run too: with the runs at +3 and +61, one more fits
    assert ids(t.offer(trouble(6), T0 + 62)) == [6]
    assert isinstance(t.offer(trouble(7), T0 + 62.5), str)


def test_a_flapping_pipeline_tells_each_state_once_in_a_while() -> None:
    t = Throttle(per_minute=60, repeat_after=600, on_recovery=True)
    assert ids(t.offer(trouble(1), T0)) == [1]
    assert ids(t.offer(recovered(1), T0 + 60)) == [1]
    why = t.offer(trouble(1), T0 + 120)  # the same state again within 10 minutes
    assert isinstance(why, str) and "repeat_minutes" in why
    assert isinstance(t.offer(recovered(1), T0 + 180), str)  # coalesced: latest stands
    assert isinstance(t.offer(trouble(1), T0 + 240), str)
    assert t.held == 3
    # other pipelines are not held by it
    assert ids(t.offer(trouble(2), T0 + 250)) == [2]
    assert t.due_at(T0 + 250) == T0 + 600  # when p1's trouble may be told again
    again = t.flush(T0 + 600)
    assert again is not None and ids(again) == [1] and again.held == 3
    assert again.alerts[0].kind is AlertKind.TROUBLE  # its latest state, not a stale one


def test_a_recovery_not_wanted_drops_the_held_trouble_it_makes_untrue() -> None:
    t = Throttle(per_minute=1, repeat_after=0, on_recovery=False)
    assert ids(t.offer(trouble(1), T0)) == [1]
    assert isinstance(t.offer(trouble(2), T0 + 1), str)
    assert t.offer(recovered(2), T0 + 2) is None  # p2 is fine again: nothing to say
    assert t.offer(recovered(1), T0 + 3) is None  # recoveries are not wanted
    assert t.held == 0 and t.flush(T0 + 120) is None


def test_held_alerts_are_given_up_at_the_end() -> None:
    t = Throttle(per_minute=1, repeat_after=0)
    t.offer(trouble(1), T0)
    t.offer(trouble(2), T0)
    assert [a.pipeline_id for a in t.take_all()] == [2] and t.held == 0
