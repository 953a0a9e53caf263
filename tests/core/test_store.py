"""The history store: transitions, restarts, retention, damaged files, threads."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from kondado_tui.core.clock import ManualClock
from kondado_tui.core.guards.redact import register_secret
from kondado_tui.core.history import store as store_module
from kondado_tui.core.history.store import SCHEMA_VERSION, HistoryStore
from kondado_tui.core.history.timeline import RunOutcome
from kondado_tui.core.models import Observation, PipelineStatus

T0 = 1_790_000_000.0
DAY = 86400.0


def obs(pid: int, status: str, at: float, raw_msg: str | None = None, **flags: bool) -> Observation:
    return Observation(PipelineStatus(pid, status, raw_msg=raw_msg, **flags), at)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "history.sqlite3"


def test_transitions_are_recorded_only_on_change(path: Path, clock: ManualClock) -> None:
    with HistoryStore(path, clock=clock) as store:
        assert store.record(obs(1, "active", T0)) is True  # first sight
        assert store.record(obs(1, "active", T0 + 60)) is False
        assert store.record(obs(1, "active", T0 + 90, is_active=False)) is False  # flags only
        assert store.record(obs(1, "running", T0 + 120, is_running=True)) is True
        assert store.record(obs(1, "running", T0 + 180, raw_msg="slow source")) is True
        assert store.record(obs(1, "running", T0 + 240, raw_msg="slow source")) is False
        assert store.record(obs(1, "active", T0 + 300, raw_msg="")) is True  # "" is no message
        assert store.record(obs(1, "active", T0 + 360, raw_msg=None)) is False

        found = store.transitions(1)
        assert [(t.at, t.from_status, t.to_status, t.raw_msg) for t in found] == [
            (T0, None, "active", None),
            (T0 + 120, "active", "running", None),
            (T0 + 180, "running", "running", "slow source"),
            (T0 + 300, "running", "active", None),
        ]
        # The change happened between the last sight of the old state and the first of the new.
        assert found[1].previous_seen_at == T0 + 90
        assert found[1].is_running is True
        assert store.note == ""
        assert store.persistent


def test_a_new_store_on_the_same_file_starts_from_the_last_state(
    path: Path, clock: ManualClock
) -> None:
    first = HistoryStore(path, clock=clock)
    first.record(obs(1, "active", T0))
    first.record(obs(1, "running", T0 + 100, is_running=True))
    first.record(obs(1, "running", T0 + 160, is_running=True))
    first.record(
        obs(
            2,
            "too_many_consecutive_failed_builds__blocked",
            T0 + 50,
            "boom",
            is_blocked=True,
            is_active=False,
        )
    )
    first.close()

    second = HistoryStore(path, clock=clock)
    last = second.last_observations()
    assert set(last) == {1, 2}
    observation, since = last[1]
    assert observation == obs(1, "running", T0 + 160, is_running=True)
    assert since == T0 + 100
    blocked, since2 = last[2]
    assert blocked.status.raw_msg == "boom" and blocked.status.is_blocked
    assert since2 == T0 + 50
    assert set(second.last_observations([2, 3])) == {2}
    # The next observation continues the same history: no spurious transition.
    assert second.record(obs(1, "running", T0 + 220, is_running=True)) is False
    assert second.record(obs(1, "active", T0 + 280)) is True
    assert [t.to_status for t in second.transitions(1)] == ["active", "running", "active"]
    second.close()


def test_an_older_observation_from_another_process_is_dropped(
    path: Path, clock: ManualClock
) -> None:
    with HistoryStore(path, clock=clock) as a, HistoryStore(path, clock=clock) as b:
        a.record(obs(1, "running", T0))
        b.record(obs(1, "active", T0 + 20))  # b saw it later
        assert a.record(obs(1, "running", T0 + 10)) is False  # a's answer arrived late
        assert [t.to_status for t in a.transitions(1)] == ["running", "active"]
        # A clock set back by hours is not a race: history goes on.
        assert a.record(obs(1, "scheduled", T0 - 3 * 3600)) is True


def test_fresh_observations_honour_max_age(path: Path, clock: ManualClock) -> None:
    with HistoryStore(path, clock=clock) as store:
        store.record(obs(1, "active", T0))
        store.record(obs(2, "active", T0 + 500))
        clock.set(T0 + 600)
        assert set(store.fresh_observations(300)) == {2}
        assert set(store.fresh_observations(600)) == {1, 2}
        assert set(store.fresh_observations(600, ids=[1])) == {1}
        assert store.fresh_observations(600, ids=[]) == {}


def test_transitions_filter_by_pipeline_time_and_limit(path: Path, clock: ManualClock) -> None:
    with HistoryStore(path, clock=clock) as store:
        for i, status in enumerate(["active", "scheduled", "running", "active"]):
            store.record(obs(1, status, T0 + i * 100))
            store.record(obs(2, status, T0 + i * 100 + 50))
        assert len(store.transitions()) == 8
        assert [t.at for t in store.transitions(since=T0 + 250)] == [T0 + 250, T0 + 300, T0 + 350]
        assert [t.at for t in store.transitions(2, limit=2)] == [T0 + 250, T0 + 350]


def test_retention_by_age_keeps_each_pipelines_newest_transition(
    path: Path, clock: ManualClock
) -> None:
    with HistoryStore(path, clock=clock, retention_days=1) as store:
        store.record(obs(1, "active", T0))
        store.record(obs(1, "running", T0 + 60))
        store.record(obs(1, "active", T0 + 120))
        store.record(obs(2, "not_active", T0))  # one old state that never changed
        store.record(obs(3, "active", T0 + DAY))
        store.record(obs(3, "running", T0 + DAY + 10))
    clock.set(T0 + 1.5 * DAY)
    with HistoryStore(path, clock=clock, retention_days=1) as store:  # prunes when opened
        assert [t.at for t in store.transitions(1)] == [T0 + 120]
        assert [t.to_status for t in store.transitions(2)] == ["not_active"]
        assert len(store.transitions(3)) == 2
        assert set(store.last_observations()) == {1, 2, 3}
        assert store.last_observations()[2][1] == T0


def test_retention_by_rows_per_pipeline(path: Path, clock: ManualClock) -> None:
    with HistoryStore(path, clock=clock, max_rows_per_pipeline=5) as store:
        for i in range(12):
            store.record(obs(1, "running" if i % 2 else "active", T0 + i))
            store.record(obs(2, "running" if i % 2 else "active", T0 + i))
        store.record(obs(3, "active", T0))
    with HistoryStore(path, clock=clock, max_rows_per_pipeline=5) as store:
        assert [t.at for t in store.transitions(1)] == [T0 + i for i in range(7, 12)]
        assert len(store.transitions(2)) == 5
        assert len(store.transitions(3)) == 1
        assert store.last_observations()[1][0].observed_at == T0 + 11


def test_pruning_happens_as_it_goes(
    path: Path, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_module, "PRUNE_EVERY", 10)
    with HistoryStore(path, clock=clock, max_rows_per_pipeline=3) as store:
        for i in range(40):
            store.record(obs(1, "running" if i % 2 else "active", T0 + i))
            assert len(store.transitions(1)) <= 3 + 10


def test_raw_msg_is_redacted_and_bounded(path: Path, clock: ManualClock) -> None:
    register_secret("s3cr3t-token-value")
    long = "x" * (store_module.RAW_MSG_LIMIT + 500)
    with HistoryStore(path, clock=clock) as store:
        store.record(obs(1, "active", T0, "GET /x?token=s3cr3t-token-value failed"))
        store.record(obs(1, "error_building_tables", T0 + 1, long))
        # The same long message again is not a change, although only its start is kept.
        assert store.record(obs(1, "error_building_tables", T0 + 2, long)) is False
    raw = b"".join(p.read_bytes() for p in path.parent.iterdir())
    assert b"s3cr3t-token-value" not in raw
    with HistoryStore(path, clock=clock) as store:
        first, second = store.transitions(1)
        assert first.raw_msg == "GET /x?token=*** failed"
        assert second.raw_msg is not None
        assert second.raw_msg.startswith("x" * store_module.RAW_MSG_LIMIT)
        assert second.raw_msg.endswith("… (cut: 500 more characters)")
        assert second.status.raw_msg_cut == 500


def test_runs_and_summary_from_the_store(path: Path, clock: ManualClock) -> None:
    sequence = [
        ("active", None),
        ("scheduled", None),
        ("running", None),
        ("active", None),  # ok 100 s
        ("running", None),
        ("active", "3 rows skipped"),  # with a message
        ("scheduled", None),
        ("running", None),
        ("too_many_consecutive_failed_builds", "cannot connect"),  # failed
        ("running", None),  # in progress
    ]
    with HistoryStore(path, clock=clock) as store:
        for i, (status, msg) in enumerate(sequence):
            store.record(obs(7, status, T0 + i * 50, msg))
        runs = store.runs(7)
        assert [r.outcome for r in runs] == [
            RunOutcome.RUNNING,
            RunOutcome.FAILED,
            RunOutcome.WITH_MESSAGE,
            RunOutcome.OK,
        ]
        assert runs[-1].duration == 100.0 and runs[-1].start_seen
        assert runs[1].raw_msg == "cannot connect"
        assert [r.outcome for r in store.runs(7, limit=2)] == [
            RunOutcome.RUNNING,
            RunOutcome.FAILED,
        ]
        summary = store.summary(7)
        assert summary.current_run is not None and summary.current_run.started_at == T0 + 450
        assert summary.last_run is not None and summary.last_run.outcome is RunOutcome.FAILED
        assert summary.last_success_at == T0 + 150
        assert summary.last_failure is not None and summary.last_failure.at == T0 + 400
        assert summary.recent_durations == (100.0, 50.0, 100.0)
        assert store.runs(99) == [] and store.summary(99).last_run is None


def test_summary_looks_past_its_window_for_old_failures_and_successes(
    path: Path, clock: ManualClock
) -> None:
    with HistoryStore(path, clock=clock) as store:
        store.record(obs(1, "running", T0))
        store.record(obs(1, "active", T0 + 10))  # the only success
        store.record(obs(1, "error_building_tables", T0 + 20, "bad table"))
        for i in range(200):  # then a long spell of harmless flapping, no runs
            store.record(obs(1, "active" if i % 2 else "not_active", T0 + 100 + i))
        summary = store.summary(1, durations=2)
        assert summary.last_success_at == T0 + 10
        assert summary.last_failure is not None and summary.last_failure.raw_msg == "bad table"
        assert summary.last_message is not None and summary.last_message.at == T0 + 20


def test_threads_share_one_store(path: Path, clock: ManualClock) -> None:
    store = HistoryStore(path, clock=clock)
    errors: list[BaseException] = []

    def writer(pid: int) -> None:
        try:
            for i in range(100):
                store.record(obs(pid, "running" if i % 2 else "active", T0 + i))
                store.last_observations()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(pid,)) for pid in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert all(len(store.transitions(pid)) == 100 for pid in range(4))
    assert store.note == ""
    store.close()


def test_the_file_uses_wal_and_a_schema_version(path: Path, clock: ManualClock) -> None:
    HistoryStore(path, clock=clock).close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    conn.close()
    assert path.stat().st_mode & 0o077 == 0  # raw_msg may name hosts: private to the user


def test_in_memory_store(clock: ManualClock) -> None:
    with HistoryStore(None, clock=clock) as store:
        assert store.record(obs(1, "active", T0)) is True
        assert not store.persistent and store.note == ""
        assert set(store.last_observations()) == {1}
