"""The dashboard's state: baselines, marks, staleness, filter and sort. (What is an
alert is decided in the core: tests/core/test_alert_watch.py.)"""

from __future__ import annotations

from kondado_tui.core.config import PipelineEntry
from kondado_tui.core.events import Connection, Health, StatusObserved
from kondado_tui.core.models import Observation, PipelineStatus, Severity
from kondado_tui.ui.view.board import Board, SortMode, stale_after

T0 = 1_790_000_000.0


def observed(
    pid: int,
    status: str,
    raw_msg: str | None = None,
    at: float = T0,
    previous: Observation | None = None,
) -> StatusObserved:
    obs = Observation(PipelineStatus(pid, status, raw_msg=raw_msg), at)
    return StatusObserved(pid, obs, previous, at)


def board() -> Board:
    return Board.of(
        [
            PipelineEntry(1, "alpha", "g1"),
            PipelineEntry(2, "beta", "g2"),
            PipelineEntry(3, None, None),
        ]
    )


def test_history_is_a_baseline_too() -> None:
    b = board()
    b.remember(1, Observation(PipelineStatus(1, "active"), T0 - 3600), T0 - 7200)
    # The first live answer differs from history: marked as changed.
    b.observe(observed(1, "error_building_tables", "x"))
    assert b.rows[1].unseen_change


def test_changed_mark_not_set_on_the_selected_row_and_cleared_when_seen() -> None:
    b = board()
    b.observe(observed(1, "active"))
    b.observe(observed(2, "active"))
    b.observe(observed(1, "running", at=T0 + 1), selected=1)
    b.observe(observed(2, "running", at=T0 + 1), selected=1)
    assert not b.rows[1].unseen_change and b.rows[2].unseen_change
    assert b.seen(2) and not b.rows[2].unseen_change
    assert not b.seen(2)


def test_stale_after_the_promised_age_plus_margin() -> None:
    b = board()
    b.health = Health(Connection.OK, max_age=120.0)
    limit = stale_after(b.health)
    assert limit == 180.0
    b.observe(observed(1, "active"))
    assert not b.is_stale(b.rows[1], T0 + 179)
    assert b.is_stale(b.rows[1], T0 + 181)
    assert not b.is_stale(b.rows[3], T0 + 10_000)  # never observed is not "stale"


def test_filter_matches_name_id_status_words_severity_and_group() -> None:
    b = board()
    b.observe(observed(1, "error_building_tables", "x"))
    b.observe(observed(2, "not_active"))
    assert [r.id for r in b.ordered(SortMode.ID, "ALPHA", T0)] == [1]
    assert [r.id for r in b.ordered(SortMode.ID, "3", T0)] == [3]
    assert [r.id for r in b.ordered(SortMode.ID, "not active", T0)] == [2]
    assert [r.id for r in b.ordered(SortMode.ID, "error", T0)] == [1]
    assert [r.id for r in b.ordered(SortMode.ID, "g2", T0)] == [2]
    assert [r.id for r in b.ordered(SortMode.ID, "pending", T0)] == [3]


def test_sorts() -> None:
    b = board()
    b.observe(observed(1, "active", at=T0))
    b.observe(observed(2, "too_many_consecutive_failed_builds__blocked", at=T0 - 50))
    assert [r.id for r in b.ordered(SortMode.SEVERITY, "", T0)] == [2, 1, 3]
    assert [r.id for r in b.ordered(SortMode.NAME, "", T0)] == [1, 2, 3]
    assert [r.id for r in b.ordered(SortMode.AGE, "", T0)] == [3, 2, 1]
    assert SortMode.AGE.next() is SortMode.SEVERITY


def test_counts_and_set_entries_keep_known_state() -> None:
    b = board()
    b.observe(observed(1, "active", "warn"))
    assert b.counts()[Severity.WARNING] == 1
    b.set_entries([PipelineEntry(1, "renamed"), PipelineEntry(9)])
    assert list(b.rows) == [1, 9]
    assert b.rows[1].observation is not None and b.rows[1].entry.name == "renamed"


def test_observations_from_before_the_session_are_remembered_not_live() -> None:
    b = Board.of([PipelineEntry(1, "alpha")], started_at=T0)
    seed = observed(1, "active", at=T0 - 600)
    b.observe(seed)
    assert not b.rows[1].live and b.rows[1].observation == seed.observation
    first = observed(1, "error_building_tables", "x", at=T0 + 5, previous=seed.observation)
    b.observe(first)
    assert b.rows[1].live and b.rows[1].unseen_change


def test_severity_sort_keeps_busy_and_ok_together_by_name() -> None:
    """A run starting or ending must not move its row: running, scheduled, building and
    active share a group ordered by name; trouble stays on top, disabled and pending last."""
    names = ["delta", "alpha", "echo", "charlie", "bravo", "foxtrot", "golf", "hotel"]
    b = Board.of([PipelineEntry(i, name, None) for i, name in enumerate(names, start=1)])
    b.observe(observed(1, "running"))
    b.observe(observed(2, "active"))
    b.observe(observed(3, "scheduled"))
    b.observe(observed(4, "building_tables"))
    b.observe(observed(5, "not_active"))
    b.observe(observed(6, "error_building_tables"))
    b.observe(observed(7, "active", "slow source"))  # a warning: trouble group
    # 8 (hotel) is never observed: pending
    order = [r.entry.name for r in b.ordered(SortMode.SEVERITY, "", T0)]
    assert order == ["foxtrot", "golf", "alpha", "charlie", "delta", "echo", "bravo", "hotel"]
    for status in ("running", "scheduled", "active", "building_tables"):
        b.observe(observed(2, status))  # alpha starts and ends a run
        assert [r.entry.name for r in b.ordered(SortMode.SEVERITY, "", T0)] == order
