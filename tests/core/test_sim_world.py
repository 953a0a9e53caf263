"""The simulated account's lifecycle, in virtual time and without HTTP."""

from __future__ import annotations

import itertools
from collections import Counter
from typing import Any

import pytest

from kondado_tui.core.clock import ManualClock
from kondado_tui.core.models import KNOWN_STATUSES
from kondado_tui.core.sim import DEMO_SPEED, Plan, SimWorld, UnknownPipeline, demo_pipelines

DAY = 86400.0
BUSY_OR_IDLE = {"scheduled", "running", "active"}
ERRORS = {"too_many_consecutive_failed_builds", "too_many_consecutive_failed_builds__blocked"}


def lived_day(seed: int = 0, pipelines: int = 15) -> tuple[SimWorld, ManualClock]:
    clock = ManualClock()
    world = SimWorld(pipelines=pipelines, seed=seed, clock=clock)
    clock.advance(DAY)
    return world, clock


def test_same_seed_same_world() -> None:
    first, _ = lived_day(seed=4)
    second, _ = lived_day(seed=4)
    assert first.pipeline_ids == second.pipeline_ids
    assert first.transitions() == second.transitions()


def test_other_seed_other_world() -> None:
    first, _ = lived_day(seed=4)
    other, _ = lived_day(seed=5)
    assert first.transitions() != other.transitions()


def test_lazy_evaluation_does_not_depend_on_how_often_it_is_asked() -> None:
    clock = ManualClock()
    polled = SimWorld(seed=2, clock=clock)
    for _ in range(24 * 12):  # every 5 minutes for a day
        clock.advance(300)
        for pid in polled.pipeline_ids:
            polled.status(pid)
    jumped, _ = lived_day(seed=2)
    assert polled.transitions() == jumped.transitions()


def test_a_day_has_runs_schedules_and_errors() -> None:
    world, _ = lived_day(seed=0, pipelines=30)
    seen = Counter(t.new for t in world.transitions())
    assert set(seen) >= BUSY_OR_IDLE
    assert seen["running"] > 30  # every enabled pipeline ran at least once
    failures = [t for t in world.transitions() if t.raw_msg and t.new in ERRORS | {"active"}]
    assert failures, "a day of 30 pipelines should see failed runs"
    assert any("\n" in (t.raw_msg or "") for t in failures)
    assert "too_many_consecutive_failed_builds" in seen


def test_transition_log_is_consistent() -> None:
    world, clock = lived_day(seed=1)
    by_pipeline: dict[int, list[Any]] = {}
    times = [t.time for t in world.transitions()]
    assert times == sorted(times)
    assert all(clock.now() - DAY <= t <= clock.now() for t in times)
    for t in world.transitions():
        by_pipeline.setdefault(t.pipeline_id, []).append(t)
    for pid, changes in by_pipeline.items():
        for before, after in itertools.pairwise(changes):
            assert after.old == before.new, f"pipeline {pid}: log skips a state"
            assert (before.new, before.raw_msg) != (after.new, after.raw_msg)
        last = changes[-1]
        assert world.status(pid)["status"] == last.new
        assert world.status(pid)["raw_msg"] == last.raw_msg
        middle = changes[len(changes) // 2]
        assert world.status_at(pid, middle.time) == (middle.new, middle.raw_msg)


def test_runs_follow_scheduled_then_running_then_idle() -> None:
    world, _ = lived_day(seed=3)
    for pid in world.pipeline_ids:
        changes = world.transitions(pid)
        for before, after in itertools.pairwise(changes):
            if before.new == "scheduled":
                assert after.new == "running"
            if before.new == "running":
                assert after.new not in ("scheduled", "running")


def test_status_entry_fields_agree_with_the_status() -> None:
    world = SimWorld(demo=True, clock=ManualClock())
    for pid in world.pipeline_ids:
        entry = world.status(pid)
        assert entry["is_running"] == (entry["status"] == "running")
        assert entry["is_active"] == (
            entry["status"] not in ("not_active", "too_many_consecutive_failed_builds__blocked")
        )


def test_status_of_an_unknown_pipeline_raises() -> None:
    world = SimWorld(clock=ManualClock())
    with pytest.raises(UnknownPipeline):
        world.status(1)


@pytest.mark.parametrize("speed", [0.0, -1.0, float("nan"), float("inf"), 1e9])
def test_speed_must_be_sensible(speed: float) -> None:
    with pytest.raises(ValueError, match="speed"):
        SimWorld(clock=ManualClock(), speed=speed)


def test_future_is_not_told() -> None:
    clock = ManualClock()
    world = SimWorld(clock=clock)
    with pytest.raises(ValueError, match="future"):
        world.status_at(world.pipeline_ids[0], clock.now() + 10)


# -- run ---------------------------------------------------------------------------------


def idle_pipeline(world: SimWorld) -> int:
    for pid in world.pipeline_ids:
        if world.status(pid)["status"] == "active" and world.spec(pid).plan is Plan.BUSINESS:
            return pid
    raise AssertionError("no idle pipeline")


def test_run_queues_then_runs_then_finishes() -> None:
    clock = ManualClock()
    world = SimWorld(seed=0, clock=clock)
    pid = idle_pipeline(world)
    assert world.run(pid) == {"success": True}
    assert world.status(pid)["status"] == "scheduled"
    assert world.run(pid)["success"] is False  # already queued
    clock.advance(world.spec(pid).queue_seconds * 1.7)
    assert world.status(pid)["status"] == "running"
    assert world.status(pid)["is_running"] is True
    clock.advance(world.spec(pid).run_seconds * 2)
    assert world.status(pid)["status"] in ("active", "too_many_consecutive_failed_builds")
    news = [t.new for t in world.transitions(pid)]
    assert news[:2] == ["scheduled", "running"]


def test_run_is_refused_on_the_essentials_plan() -> None:
    world = SimWorld(demo=True, clock=ManualClock())
    answer = world.run(2053)
    assert answer["success"] is False
    assert "Essentials" in answer["error"]
    assert world.status(2053)["status"] == "active"


@pytest.mark.parametrize("pid", [2063, 2071, 2070, 2081, 2082])
def test_run_is_refused_when_the_state_forbids_it(pid: int) -> None:
    world = SimWorld(demo=True, clock=ManualClock())
    before = world.status(pid)
    answer = world.run(pid)
    assert answer["success"] is False and answer["error"]
    assert world.status(pid) == before


def test_run_of_an_unknown_pipeline() -> None:
    answer = SimWorld(clock=ManualClock()).run(1)
    assert answer["success"] is False
    assert "not found" in answer["error"]


# -- the demo ------------------------------------------------------------------------------


def test_demo_covers_every_documented_status_and_the_odd_cases() -> None:
    world = SimWorld(demo=True, clock=ManualClock())
    entries = {pid: world.status(pid) for pid in world.pipeline_ids}
    statuses = {e["status"] for e in entries.values()}
    assert set(KNOWN_STATUSES) <= statuses
    assert statuses - set(KNOWN_STATUSES), "one status outside the documentation"
    raws = [e["raw_msg"] for e in entries.values() if e["raw_msg"]]
    assert any("[b]" in r and "\x1b[" in r for r in raws)
    assert any(r.count("\n") >= 10 and len(r) > 1000 for r in raws)
    assert any(e["status"] == "active" and e["raw_msg"] for e in entries.values())
    assert any(world.spec(pid).plan is Plan.ESSENTIALS for pid in entries)
    assert 12 <= len(entries) <= 20


def test_demo_pipelines_match_the_demo_world() -> None:
    listed = demo_pipelines()
    world = SimWorld(demo=True, clock=ManualClock())
    assert [p.id for p in listed] == world.pipeline_ids
    assert demo_pipelines(world) == listed
    assert all(p.name and p.group for p in listed)
    assert len({p.group for p in listed}) >= 3


def test_demo_moves_within_seconds() -> None:
    clock = ManualClock()
    world = SimWorld(demo=True, clock=clock, speed=DEMO_SPEED)
    clock.advance(5)
    assert len(world.transitions()) >= 3
    clock.advance(60)
    assert {"scheduled", "running", "active"} <= {t.new for t in world.transitions()}


def test_speed_scales_time() -> None:
    slow_clock, fast_clock = ManualClock(), ManualClock()
    slow = SimWorld(seed=7, clock=slow_clock, speed=1.0)
    fast = SimWorld(seed=7, clock=fast_clock, speed=60.0)
    slow_clock.advance(DAY)
    fast_clock.advance(DAY / 60)
    assert [(t.pipeline_id, t.new) for t in slow.transitions()] == [
        (t.pipeline_id, t.new) for t in fast.transitions()
    ]


# -- duplicate -----------------------------------------------------------------------------


def body_for(world: SimWorld, pid: int, **changes: Any) -> dict[str, Any]:
    return {**world.example_duplicate_body(pid), **changes}


def new_id(answer: dict[str, Any]) -> int:
    assert answer["success"] is True, answer
    assert answer["data"]["success"] is True
    value = answer["data"]["data"]["new_pipeline_id"]
    assert isinstance(value, int)
    return value


def test_duplicate_creates_a_pipeline_that_builds_then_lives() -> None:
    clock = ManualClock()
    world = SimWorld(demo=True, clock=clock, speed=DEMO_SPEED)
    pid = new_id(world.duplicate(body_for(world, 2040, name="Orders copy")))
    assert pid in world.pipeline_ids
    assert world.spec(pid).name == "Orders copy"
    assert world.status(pid)["status"] == "building_tables"
    assert world.status(pid)["is_blocked"] is True
    assert world.transitions(pid)[0].old == ""
    clock.advance(30)
    assert world.status(pid)["status"] != "building_tables"
    clock.advance(300)
    assert "running" in {t.new for t in world.transitions(pid)}  # inherits the schedule


def test_duplicate_with_execute_immediately_runs_after_building() -> None:
    clock = ManualClock()
    world = SimWorld(demo=True, clock=clock, speed=DEMO_SPEED)
    pid = new_id(world.duplicate(body_for(world, 2040, execute_immediately="Y")))
    clock.advance(25)
    news = [t.new for t in world.transitions(pid)]
    assert news[:3] == ["building_tables", "active", "scheduled"]


def test_duplicate_inherits_and_overwrites_parameters() -> None:
    world = SimWorld(demo=True, clock=ManualClock())
    base = world.spec(2040)
    name = next(k for k, v in base.parameters.items() if v)
    pid = new_id(
        world.duplicate(
            body_for(
                world,
                2040,
                overwrite_parameters={name: "x"},
                client_id=31552,
                deltas_tables={p: f"d_{p}" for p in base.paths},
            )
        )
    )
    assert world.spec(pid).parameters == {**base.parameters, name: "x"}
    assert world.spec(pid).client_id == 31552
    assert world.duplicate_bodies[-1]["overwrite_parameters"] == {name: "x"}


def test_duplicate_accepts_a_list_parameter_like_the_documented_example() -> None:
    world = SimWorld(demo=True, clock=ManualClock())
    base = world.spec(2040)
    name = next(k for k, v in base.parameters.items() if v)
    accounts = ["act_111", "act_222"]
    answer = world.duplicate(body_for(world, 2040, overwrite_parameters={name: accounts}))
    assert answer["success"] is True, answer
    assert world.duplicate_bodies[-1]["overwrite_parameters"] == {name: accounts}


def test_example_bodies_are_accepted_for_every_pipeline() -> None:
    world = SimWorld(seed=9, clock=ManualClock())
    for pid in list(world.pipeline_ids):
        body = world.example_duplicate_body(pid)
        assert body["src_collection_id"] != world.spec(pid).src_collection_id
        new_id(world.duplicate(body))


def test_duplicate_records_every_body_received() -> None:
    world = SimWorld(demo=True, clock=ManualClock())
    world.duplicate({"nonsense": True})
    world.duplicate(body_for(world, 2040))
    assert world.duplicate_bodies[0] == {"nonsense": True}
    assert world.duplicate_bodies[1]["pipeline_id"] == 2040


def _drop(field: str) -> Any:
    return lambda b: {k: v for k, v in b.items() if k != field}


def _set(field: str, value: Any) -> Any:
    return lambda b: {**b, field: value}


def _tables(field: str, change: Any) -> Any:
    return lambda b: {**b, field: change(b["full_tables"])}


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (_drop("pipeline_id"), "pipeline_id"),
        (_drop("full_tables"), "full_tables"),
        (_drop("execute_immediately"), "execute_immediately"),
        (_drop("src_collection_id"), "src_collection_id"),
        (_drop("dest_collection_id"), "dest_collection_id"),
        (_set("pipeline_id", "2040"), "integer"),
        (_set("pipeline_id", True), "integer"),
        (_set("pipeline_id", 1), "not found"),
        (_set("src_collection_id", 5003), "not active"),
        (_set("src_collection_id", 5001), "type"),
        (_set("src_collection_id", 7001), "not found"),
        (_set("dest_collection_id", 7031), "type"),
        (_set("dest_collection_id", 999), "not found"),
        (_set("execute_immediately", "yes"), "execute_immediately"),
        (_set("execute_immediately", True), "execute_immediately"),
        (_set("client_id", 99), "Client 99"),
        (_set("client_id", "20417"), "integer"),
        (_set("name", ""), "name"),
        (_set("name", 5), "name"),
        (_set("full_tables", []), "object"),
        (_tables("full_tables", lambda t: {k: v for k, v in t.items() if k}), "''"),
        (_tables("full_tables", lambda t: {k: v for k, v in t.items() if not k}), "missing"),
        (_tables("full_tables", lambda t: {**t, "extra": "x"}), "unknown table path"),
        (_tables("full_tables", lambda t: {**t, "": ""}), "non-empty"),
        (_tables("deltas_tables", lambda t: {"": "d"}), "deltas_tables"),
        (_set("overwrite_parameters", {"nope": "1"}), "does not exist"),
        (_set("overwrite_parameters", {"custom_properties": "a"}), "not filled"),
        (_set("overwrite_parameters", {"start_date": {"x": 1}}), "value"),
        (_set("overwrite_parameters", {"start_date": []}), "empty"),
        (_set("overwrite_parameters", {"start_date": [{"x": 1}]}), "value"),
        (_set("overwrite_parameters", "start_date=x"), "object"),
        (_set("surprise", 1), "Unknown field"),
    ],
)
def test_duplicate_refuses_bad_bodies(change: Any, words: str) -> None:
    world = SimWorld(demo=True, clock=ManualClock())
    before = world.pipeline_ids
    answer = world.duplicate(change(body_for(world, 2042)))  # HubSpot: 3 table paths
    assert answer["success"] is False
    assert words in answer["error"]
    assert world.pipeline_ids == before


@pytest.mark.parametrize("body", [None, [], "x", 3])
def test_duplicate_refuses_non_objects(body: Any) -> None:
    answer = SimWorld(clock=ManualClock()).duplicate(body)
    assert answer == {"success": False, "error": "Invalid body: expected a JSON object"}
