"""A fixed dashboard scene for snapshot tests: every status, a stale row, a never-seen
row, markup in a raw_msg, recorded history. The clock is frozen and nothing polls."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ui_fakes import FakePoller, FakeSession, make_config

from kondado_tui.core.clock import ManualClock
from kondado_tui.core.config import PipelineEntry
from kondado_tui.core.history.store import HistoryStore
from kondado_tui.core.models import Observation, PipelineStatus
from kondado_tui.ui.app import KondadoApp

T = 1_790_000_000.0  # 2026-09-21 14:13:20 UTC
MINUTE, HOUR, DAY = 60.0, 3600.0, 86400.0

ENTRIES = (
    PipelineEntry(2040, "Shopify orders → BigQuery", "Sales"),
    PipelineEntry(2041, "Shopify customers → BigQuery", "Sales"),
    PipelineEntry(2042, "HubSpot deals → BigQuery", "Sales"),
    PipelineEntry(2050, "Meta Ads insights → BigQuery", "Marketing"),
    PipelineEntry(2051, "GA4 sessions by source", "Marketing"),
    PipelineEntry(2060, "ERP notas fiscais → Snowflake", "Finance"),
    PipelineEntry(2061, "ERP pedidos → Snowflake", "Finance"),
    PipelineEntry(2062, "Postgres invoices → Snowflake", "Finance"),
    PipelineEntry(2063, "Postgres payments (legacy)", "Finance"),
    PipelineEntry(2070, "Postgres products → Redshift", "Product"),
    PipelineEntry(2071, "Postgres events → Redshift", "Product"),
    PipelineEntry(2082, None, "Operations"),
)

# pid, status, raw_msg, observed seconds ago, in this status for
STATES: tuple[tuple[int, str, str | None, float, float], ...] = (
    (2040, "active", None, 40, 3 * HOUR),
    (2041, "running", None, 12, 4 * MINUTE),
    (2042, "scheduled", None, 75, 50),
    (2050, "active", "[b]3 records skipped[/b]: invalid date '0000-00-00'", 30, 2 * HOUR),
    (2051, "building_tables", None, 20, 6 * MINUTE),
    (
        2060,
        "error_building_tables",
        'Could not create table "nf_itens": permission denied for schema raw',
        55,
        5 * HOUR,
    ),
    (
        2061,
        "too_many_consecutive_failed_builds",
        "Connection timed out: erp.internal:5432 (after 3 attempts)\nat Extractor.run",
        8,
        DAY,
    ),
    (
        2062,
        "too_many_consecutive_failed_builds__blocked",
        'Blocked after 5 failed runs: authentication failed for user "kondado"',
        100,
        2 * DAY,
    ),
    (2063, "not_active", None, 110, 9 * DAY),
    (2070, "active", None, 10 * MINUTE, 10 * HOUR),  # stale: older than max_age + margin
    (2071, "paused_by_support", "Paused by Kondado support", 60, 3 * DAY),
)


def record_history(store: HistoryStore, clock: ManualClock) -> None:
    """Two weeks of runs of pipeline 2061, the last ones failing."""
    pid = 2061
    at = T - 14 * DAY
    durations = [410, 380, 455, 520, 390, 610, 480, 430, 700, 515, 450, 900, 470, 1300]
    for index, seconds in enumerate(durations):
        for status, offset, msg in (
            ("active", 0.0, None),
            ("scheduled", HOUR, None),
            ("running", HOUR + 60, None),
            (
                "active" if index < len(durations) - 1 else "too_many_consecutive_failed_builds",
                HOUR + 60 + seconds,
                None if index < len(durations) - 1 else "Connection timed out: erp.internal:5432",
            ),
        ):
            clock.set(at + offset)
            store.record(Observation(PipelineStatus(pid, status, raw_msg=msg), at + offset))
        at += DAY
    clock.set(T)


@contextmanager
def utc() -> Iterator[None]:
    """Times in the detail screen are local: pin the zone so snapshots do not move."""
    old = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = old
        time.tzset()


def build_scene(tmp_path: Path, *, with_history: bool = True) -> tuple[KondadoApp, FakePoller]:
    clock = ManualClock(T, frozen=True)
    poller = FakePoller(clock, [e.id for e in ENTRIES])
    poller.set_health_quietly(used_last_minute=14, next_poll_at=T + 3, last_success_at=T - 8)
    store = None
    if with_history:
        store = HistoryStore(tmp_path / "history.sqlite3", clock=clock)
        record_history(store, clock)
    config = make_config(tmp_path / "config.toml", ENTRIES)
    app = KondadoApp(
        FakeSession(config, poller, store=store), clock=clock, poll=False, env={"TERM": "xterm"}
    )
    return app, poller


def seed_scene(poller: FakePoller) -> None:
    for pid, status, raw_msg, ago, since in STATES:
        poller.observe(pid, status, raw_msg, at=T - ago, since=T - since)
    # One row changed while the user was looking elsewhere: it carries the mark.
    poller.observe(2042, "running", None, at=T, since=T)
