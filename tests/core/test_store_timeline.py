"""Timelines and runs derived from transitions: a hand-made day and a simulated one."""

from __future__ import annotations

from pathlib import Path

import pytest

from kondado_tui.core.clock import ManualClock
from kondado_tui.core.history.store import HistoryStore
from kondado_tui.core.history.timeline import (
    RunOutcome,
    Transition,
    current_run,
    derive_runs,
    last_failure,
    last_message,
    last_run,
    last_success,
    recent_durations,
    summarize,
    timeline,
)
from kondado_tui.core.models import Observation, PipelineStatus
from kondado_tui.core.sim.world import SimWorld

T0 = 1_790_000_000.0
H = 3600.0


def tr(
    at: float, old: str | None, new: str, msg: str | None = None, seen: float | None = None
) -> Transition:
    return Transition(1, at, old, new, msg, previous_seen_at=seen)


# A day of one pipeline as a poller asking every 60 s would record it.
DAY = [
    tr(T0, None, "active"),
    tr(T0 + 1 * H, "active", "scheduled", seen=T0 + 1 * H - 60),
    tr(T0 + 1 * H + 60, "scheduled", "running", seen=T0 + 1 * H),
    tr(T0 + 1 * H + 600, "running", "active", seen=T0 + 1 * H + 540),  # ok, 10 min
    tr(T0 + 2 * H, "active", "running", seen=T0 + 2 * H - 60),
    tr(
        T0 + 2 * H + 300,
        "running",
        "active",
        "Could not connect to the source",
        seen=T0 + 2 * H + 240,
    ),  # ended with a message, 5 min
    tr(T0 + 3 * H, "active", "running", seen=T0 + 3 * H - 60),
    tr(T0 + 3 * H + 120, "running", "paused_by_support", "migration", seen=T0 + 3 * H + 60),
    tr(T0 + 3 * H + 180, "paused_by_support", "running", seen=T0 + 3 * H + 120),
    tr(
        T0 + 3 * H + 900,
        "running",
        "too_many_consecutive_failed_builds",
        "timeout",
        seen=T0 + 3 * H + 840,
    ),  # failed after 15 min, through an undocumented status
    tr(T0 + 4 * H, "too_many_consecutive_failed_builds", "scheduled", seen=T0 + 4 * H - 60),
    tr(T0 + 4 * H + 240, "scheduled", "active", seen=T0 + 4 * H + 180),  # ok, 4 min
    tr(T0 + 5 * H, "active", "not_active", seen=T0 + 5 * H - 60),  # disabled: no run
    tr(T0 + 6 * H, "not_active", "active", seen=T0 + 6 * H - 60),
    tr(T0 + 7 * H, "active", "running", seen=T0 + 7 * H - 60),  # still going
]


def test_timeline_gives_each_state_its_span() -> None:
    entries = timeline(reversed(DAY))
    assert [e.transition for e in entries] == DAY
    assert entries[0].until == T0 + 1 * H
    assert entries[0].duration(now=T0 + 9 * H) == 1 * H
    assert entries[-1].until is None
    assert entries[-1].duration(now=T0 + 7 * H + 90) == 90


def test_runs_of_a_hand_made_day() -> None:
    runs = derive_runs(DAY)
    assert [(r.outcome, r.started_at - T0, r.duration) for r in runs] == [
        (RunOutcome.OK, 1 * H, 600.0),
        (RunOutcome.WITH_MESSAGE, 2 * H, 300.0),
        (RunOutcome.FAILED, 3 * H, 900.0),
        (RunOutcome.OK, 4 * H, 240.0),
        (RunOutcome.RUNNING, 7 * H, None),
    ]
    assert runs[1].raw_msg == "Could not connect to the source"
    assert runs[2].raw_msg == "timeout"
    assert runs[2].end_status == "too_many_consecutive_failed_builds"
    assert all(r.start_seen for r in runs)
    assert runs[0].uncertainty == 120.0  # 60 s doubt at either end
    assert runs[-1].elapsed(T0 + 7 * H + 30) == 30
    assert last_run(runs) == runs[3]
    assert current_run(runs) == runs[4]
    assert current_run(runs[:4]) is None
    success = last_success(runs)
    assert success is not None and success.ended_at == T0 + 4 * H + 240
    failure = last_failure(DAY)
    assert failure is not None and failure.raw_msg == "timeout"
    message = last_message(DAY)
    assert message is not None and message.raw_msg == "timeout"
    assert recent_durations(runs) == [600.0, 300.0, 900.0, 240.0]
    assert recent_durations(runs, 2) == [900.0, 240.0]
    assert recent_durations(runs, 0) == []


def test_summary_of_the_day() -> None:
    summary = summarize(DAY)
    assert summary.last_run is not None and summary.last_run.duration == 240.0
    assert summary.current_run is not None and summary.current_run.started_at == T0 + 7 * H
    assert summary.last_success_at == T0 + 4 * H + 240
    assert summary.last_failure is not None and summary.last_failure.at == T0 + 3 * H + 900
    assert summary.recent_durations == (600.0, 300.0, 900.0, 240.0)
    assert summarize([]) == summarize(())


def test_a_run_already_going_when_first_seen_is_a_lower_bound() -> None:
    transitions = [
        tr(T0, None, "running"),
        tr(T0 + 300, "running", "active", seen=T0 + 240),
        tr(T0 + 900, "active", "building_tables", seen=T0 + 840),
        tr(T0 + 1000, "building_tables", "error_building_tables", "bad column", seen=T0 + 990),
    ]
    runs = derive_runs(transitions)
    assert [(r.start_seen, r.outcome) for r in runs] == [
        (False, RunOutcome.OK),
        (True, RunOutcome.FAILED),
    ]
    assert recent_durations(runs) == [100.0]
    assert runs[1].uncertainty == 70.0


def test_unknown_and_idle_states_do_not_start_runs() -> None:
    transitions = [
        tr(T0, None, "active"),
        tr(T0 + 10, "active", "paused_by_support", "migration"),
        tr(T0 + 20, "paused_by_support", "not_active"),
        tr(T0 + 30, "not_active", "active", "stale message"),
    ]
    assert derive_runs(transitions) == []
    assert last_failure(transitions) is None
    message = last_message(transitions)
    assert message is not None and message.raw_msg == "stale message"


def _truth_runs(world: SimWorld, pid: int) -> list[tuple[float, float, str, str | None]]:
    """(queued at, finished at, end status, raw_msg) of every finished run, from the world."""
    runs: list[tuple[float, float, str, str | None]] = []
    queued: float | None = None
    for change in world.transitions(pid):
        if change.new == "scheduled":
            queued = change.time
        if change.old == "running" and queued is not None:
            runs.append((queued, change.time, change.new, change.raw_msg))
            queued = None
    return runs


def _status(pid: int, status: str, raw_msg: str | None) -> PipelineStatus:
    return PipelineStatus(pid, status, is_running=status == "running", raw_msg=raw_msg)


@pytest.fixture
def world_day() -> tuple[SimWorld, ManualClock]:
    clock = ManualClock(T0)
    world = SimWorld(pipelines=10, seed=7, clock=clock)
    return world, clock


def test_every_change_of_a_simulated_day_becomes_a_transition_and_runs_match(
    tmp_path: Path, world_day: tuple[SimWorld, ManualClock]
) -> None:
    world, clock = world_day
    clock.advance(24 * H)
    truth = world.transitions()
    assert len(truth) > 100
    with HistoryStore(tmp_path / "h.sqlite3", clock=clock) as store:
        for pid in world.pipeline_ids:  # each pipeline as first seen
            status, raw = world.status_at(pid, T0)
            store.record(Observation(_status(pid, status, raw), T0))
        for change in truth:  # then seen at the very moment of each change
            store.record(
                Observation(_status(change.pipeline_id, change.new, change.raw_msg), change.time)
            )
        recorded = store.transitions(since=T0 + 0.001)
        assert [
            (t.pipeline_id, t.at, t.from_status, t.to_status, t.raw_msg)
            for t in sorted(recorded, key=lambda t: (t.at, t.pipeline_id))
        ] == [(c.pipeline_id, c.time, c.old, c.new, c.raw_msg) for c in truth]
        outcomes: set[RunOutcome] = set()
        for pid in world.pipeline_ids:
            finished = [r for r in reversed(store.runs(pid, limit=500)) if r.finished]
            expected = _truth_runs(world, pid)
            assert [(r.started_at, r.ended_at, r.end_status, r.raw_msg) for r in finished] == (
                expected
            )
            for run in finished:
                outcomes.add(run.outcome)
                if run.end_status == "active":
                    assert run.outcome is (
                        RunOutcome.WITH_MESSAGE if run.raw_msg else RunOutcome.OK
                    )
                else:
                    assert run.outcome is RunOutcome.FAILED
        assert RunOutcome.OK in outcomes and len(outcomes) >= 2


def test_durations_from_a_poller_sampling_a_simulated_day_bracket_the_truth(
    tmp_path: Path, world_day: tuple[SimWorld, ManualClock]
) -> None:
    world, clock = world_day
    step = 90.0
    with HistoryStore(tmp_path / "h.sqlite3", clock=clock) as store:
        while clock.now() <= T0 + 24 * H:
            for pid in world.pipeline_ids:
                entry = world.status(pid)
                store.record(
                    Observation(
                        PipelineStatus(
                            pid,
                            entry["status"],
                            entry["is_running"],
                            entry["is_active"],
                            entry["is_blocked"],
                            entry["raw_msg"],
                        ),
                        clock.now(),
                    )
                )
            clock.advance(step)
        checked = 0
        for pid in world.pipeline_ids:
            truth = _truth_runs(world, pid)
            for run in store.runs(pid, limit=500):
                if not (run.finished and run.start_seen):
                    continue
                assert run.ended_at is not None and run.duration is not None
                overlapping = [
                    t for t in truth if t[0] <= run.ended_at and t[1] > run.started_at - step
                ]
                if len(overlapping) != 1:
                    continue  # an idle spell shorter than a poll: two runs look like one
                queued, finished, _, _ = overlapping[0]
                true_duration = finished - queued
                end_doubt = step
                assert run.duration - end_doubt - 1e-6 <= true_duration
                assert true_duration <= run.duration + run.uncertainty + 1e-6
                assert run.uncertainty <= 2 * step + 1e-6
                checked += 1
        assert checked > 50
