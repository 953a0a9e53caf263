"""The one decision of what is new trouble (`core.alerts.watch`), shared by the
dashboard's bell and the alert command: baselines, once per trouble, recoveries,
refusals, history, pipelines added and removed."""

from __future__ import annotations

from kondado_tui.core.alerts.hub import AlertHub
from kondado_tui.core.alerts.watch import TroubleWatch
from kondado_tui.core.config import PipelineEntry
from kondado_tui.core.errors import FailureKind
from kondado_tui.core.events import (
    Alert,
    AlertKind,
    PipelineFailed,
    Refusal,
    SessionEvent,
    StatusObserved,
)
from kondado_tui.core.models import Observation, PipelineStatus

T0 = 1_790_000_000.0
ENTRIES = [PipelineEntry(1, "alpha", "g1"), PipelineEntry(2, "beta", None), PipelineEntry(3)]


def observed(
    pid: int, status: str, raw_msg: str | None = None, at: float = T0, blocked: bool = False
) -> StatusObserved:
    obs = Observation(PipelineStatus(pid, status, raw_msg=raw_msg, is_blocked=blocked), at)
    return StatusObserved(pid, obs, None, at)


def refused(pid: int, at: float, refusal: Refusal = Refusal.NOT_FOUND) -> PipelineFailed:
    return PipelineFailed(pid, FailureKind.REJECTED, "Pipeline not found", at, refusal=refusal)


def watch() -> TroubleWatch:
    return TroubleWatch(ENTRIES, started_at=T0)


def test_first_answer_is_the_baseline_even_in_trouble() -> None:
    w = watch()
    assert w.feed(observed(1, "error_building_tables", "boom")) is None
    # still the same trouble: not news either
    assert w.feed(observed(1, "error_building_tables", "boom again", T0 + 60)) is None


def test_turning_into_trouble_alerts_once_then_blocked_then_recovery() -> None:
    w = watch()
    w.feed(observed(1, "active"))
    alert = w.feed(observed(1, "too_many_consecutive_failed_builds", "db down", T0 + 60))
    assert alert == Alert(
        AlertKind.TROUBLE,
        1,
        "alpha",
        "g1",
        PipelineStatus(1, "too_many_consecutive_failed_builds").kind,
        "db down",
        T0 + 60,
    )
    assert w.feed(observed(1, "too_many_consecutive_failed_builds", "db down", T0 + 90)) is None
    blocked = w.feed(observed(1, "too_many_consecutive_failed_builds__blocked", None, T0 + 99))
    assert blocked is not None and blocked.kind is AlertKind.TROUBLE
    recovered = w.feed(observed(1, "active", None, T0 + 120))
    assert recovered is not None and recovered.kind is AlertKind.RECOVERED
    assert recovered.status.value == "active"
    assert w.feed(observed(1, "running", None, T0 + 130)) is None


def test_an_undocumented_status_flagged_blocked_is_trouble() -> None:
    w = watch()
    w.feed(observed(2, "active"))
    alert = w.feed(observed(2, "paused_by_kondado", at=T0 + 5, blocked=True))
    assert alert is not None and alert.name == "beta" and alert.group is None


def test_history_is_never_news_and_the_first_live_answer_is_the_baseline() -> None:
    w = watch()
    assert w.feed(observed(1, "active", at=T0 - 600)) is None  # read back from history
    assert w.feed(observed(1, "error_building_tables", "x", at=T0 + 5)) is None
    assert w.feed(observed(1, "active", at=T0 + 65)) is not None  # a recovery: news


def test_refused_mid_session_alerts_once_refused_from_the_start_does_not() -> None:
    w = watch()
    w.feed(observed(1, "active"))
    alert = w.feed(refused(1, T0 + 10))
    assert alert is not None and alert.status.value == "not found"
    assert alert.raw_msg == "Pipeline not found"
    assert w.feed(refused(1, T0 + 20)) is None
    assert w.feed(refused(2, T0 + 20)) is None  # never answered: the baseline
    passing = PipelineFailed(1, FailureKind.UNREACHABLE, "timeout", T0 + 30)
    assert w.feed(passing) is None
    back = w.feed(observed(1, "active", at=T0 + 40))
    assert back is not None and back.kind is AlertKind.RECOVERED


def test_unknown_pipelines_are_ignored_and_entries_can_change() -> None:
    w = watch()
    w.feed(observed(9, "active"))
    assert w.feed(observed(9, "error_building_tables", at=T0 + 1)) is None
    w.set_entries([*ENTRIES, PipelineEntry(9, "new one", "g9")])
    assert w.feed(observed(9, "active", at=T0 + 2)) is None  # its baseline
    alert = w.feed(observed(9, "error_building_tables", at=T0 + 3))
    assert alert is not None and (alert.name, alert.group) == ("new one", "g9")
    # removed, then added again: a fresh baseline (no stale recovery)
    w.set_entries(ENTRIES)
    w.set_entries([*ENTRIES, PipelineEntry(9)])
    assert w.feed(observed(9, "active", at=T0 + 4)) is None
    assert w.feed(observed(3, "active", at=T0 + 4)) is None
    unnamed = w.feed(observed(3, "error_building_tables", at=T0 + 5))
    assert unnamed is not None and unnamed.name == "pipeline 3"


def test_the_hub_tells_listeners_the_alert_after_its_event() -> None:
    seen: list[SessionEvent] = []
    hub = AlertHub(ENTRIES, T0, seen.append)
    for event in (observed(1, "active"), observed(1, "error_building_tables", at=T0 + 1)):
        seen.append(event)  # what the session's dispatch does first
        hub.feed(event)
    assert [type(e).__name__ for e in seen] == ["StatusObserved", "StatusObserved", "Alert"]
