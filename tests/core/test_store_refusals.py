"""Refusals in the history file, and the upgrade of a format-1 file (before refusals)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from kondado_tui.core.clock import ManualClock
from kondado_tui.core.events import Refusal
from kondado_tui.core.history.store import SCHEMA_VERSION, HistoryStore
from kondado_tui.core.models import Observation, PipelineStatus

T0 = 1_790_000_000.0

# The format-1 schema exactly as kondado-tui wrote it before refusals were stored.
FORMAT_1 = """
CREATE TABLE transitions (
    id INTEGER PRIMARY KEY, pipeline_id INTEGER NOT NULL, at REAL NOT NULL,
    previous_seen_at REAL, from_status TEXT, to_status TEXT NOT NULL, raw_msg TEXT,
    is_running INTEGER NOT NULL, is_active INTEGER NOT NULL, is_blocked INTEGER NOT NULL
);
CREATE INDEX transitions_by_pipeline ON transitions (pipeline_id, at);
CREATE INDEX transitions_by_time ON transitions (at);
CREATE INDEX transitions_by_status ON transitions (pipeline_id, to_status, at);
CREATE INDEX transitions_with_msg ON transitions (pipeline_id, at) WHERE raw_msg IS NOT NULL;
CREATE TABLE last_observations (
    pipeline_id INTEGER PRIMARY KEY, status TEXT NOT NULL, raw_msg TEXT,
    is_running INTEGER NOT NULL, is_active INTEGER NOT NULL, is_blocked INTEGER NOT NULL,
    observed_at REAL NOT NULL, since REAL NOT NULL
);
INSERT INTO transitions (pipeline_id, at, previous_seen_at, from_status, to_status,
    raw_msg, is_running, is_active, is_blocked)
    VALUES (7, 1790000000.0, NULL, NULL, 'active', NULL, 0, 1, 0),
           (7, 1790000100.0, 1790000050.0, 'active', 'running', NULL, 1, 1, 0);
INSERT INTO last_observations VALUES (7, 'running', NULL, 1, 1, 0, 1790000100.0, 1790000100.0);
PRAGMA user_version = 1;
"""


def observe(store: HistoryStore, pid: int, status: str, at: float) -> bool:
    return store.record(Observation(PipelineStatus(pid, status), at))


def test_a_format_1_file_opens_keeps_its_rows_and_takes_refusals(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    conn = sqlite3.connect(path)
    conn.executescript(FORMAT_1)
    conn.close()
    clock = ManualClock(T0 + 200)
    store = HistoryStore(path, clock=clock)
    assert store.persistent and store.note == ""  # upgraded in place, not set aside
    assert [t.to_status for t in store.transitions(7)] == ["active", "running"]
    assert all(t.refusal is None for t in store.transitions(7))
    assert store.last_observations()[7][0].status.status == "running"
    assert store.record_refusal(7, Refusal.NOT_FOUND, "Pipeline not found", T0 + 200)
    store.close()
    version = sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0]
    assert version == SCHEMA_VERSION == 2
    store = HistoryStore(path, clock=clock)  # and opens again as format 2
    last = store.transitions(7)[-1]
    assert (last.from_status, last.to_status, last.refusal) == (
        "running",
        "not_found",
        Refusal.NOT_FOUND,
    )
    assert last.previous_seen_at == T0 + 100
    store.close()


def test_a_refusal_is_one_transition_until_an_answer(tmp_path: Path) -> None:
    clock = ManualClock(T0)
    store = HistoryStore(tmp_path / "h.sqlite3", clock=clock)
    observe(store, 5, "active", T0)
    assert store.record_refusal(5, Refusal.NO_ACCESS, "FORBIDDEN", T0 + 60)
    assert not store.record_refusal(5, Refusal.NO_ACCESS, "FORBIDDEN", T0 + 120)
    # another kind of refusal is a change
    assert store.record_refusal(5, Refusal.NOT_FOUND, "gone", T0 + 180)
    now = store.refusals()[5]
    assert (now.refusal, now.since, now.last_at, now.message) == (
        Refusal.NOT_FOUND,
        T0 + 180,
        T0 + 180,
        "gone",
    )
    # answering again with the very status it had before is still the end of the refusal
    assert observe(store, 5, "active", T0 + 240)
    assert store.refusals() == {}
    assert [(t.from_status, t.to_status) for t in store.transitions(5)] == [
        (None, "active"),
        ("active", "no_access"),
        ("no_access", "not_found"),
        ("not_found", "active"),
    ]
    assert not observe(store, 5, "active", T0 + 300)  # and then answers as usual
    store.close()


def test_a_refusal_older_than_an_answer_another_process_stored_is_dropped(
    tmp_path: Path,
) -> None:
    clock = ManualClock(T0)
    store = HistoryStore(tmp_path / "h.sqlite3", clock=clock)
    observe(store, 5, "active", T0 + 100)
    assert not store.record_refusal(5, Refusal.NOT_FOUND, "late", T0 + 50)
    assert store.refusals() == {}
    store.close()


def test_refusal_messages_are_stored_redacted_and_cut(tmp_path: Path) -> None:
    from kondado_tui.core.guards.redact import register_secret

    register_secret("s3cr3t-token-value")
    store = HistoryStore(None, clock=ManualClock(T0))
    store.record_refusal(9, Refusal.REFUSED, "no: s3cr3t-token-value " + "x" * 20_000, T0)
    stored = store.refusals()[9]
    assert "s3cr3t-token-value" not in stored.message
    assert len(stored.message) <= 16_000 + len("… (cut: 4008 more characters)")
    assert stored.message.endswith("… (cut: 4008 more characters)")
    store.close()


def test_refusal_named_reads_both_ends_of_a_refusal_transition() -> None:
    from kondado_tui.core.history.timeline import refusal_named

    assert refusal_named("not_found") is Refusal.NOT_FOUND
    assert refusal_named("no_access") is Refusal.NO_ACCESS
    assert refusal_named("active") is None and refusal_named(None) is None
