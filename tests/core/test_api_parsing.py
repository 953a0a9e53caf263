"""The client's parsers accept every documented answer shape and reject the rest clearly."""

from __future__ import annotations

import pytest

from kondado_tui.core.api import parse_new_pipeline_id, parse_status
from kondado_tui.core.errors import BadAnswer, RateLimited, Rejected
from kondado_tui.core.models import Severity, app_url, status_kind

UNWRAPPED = {
    "2040": {
        "status": "active",
        "is_running": False,
        "is_active": True,
        "is_blocked": False,
        "raw_msg": None,
    }
}


def test_status_unwrapped_shape() -> None:
    status = parse_status(2040, UNWRAPPED)
    assert status.status == "active"
    assert status.raw_msg is None
    assert status.severity is Severity.OK


def test_status_wrapped_shape() -> None:
    payload = {"success": True, "data": {"162": {"status": "running", "is_running": True}}}
    status = parse_status(162, payload)
    assert status.status == "running"
    assert status.is_running is True
    assert status.severity is Severity.BUSY


def test_unknown_status_is_kept_not_dropped() -> None:
    status = parse_status(7, {"7": {"status": "paused_by_admin", "raw_msg": ""}})
    assert status.status == "paused_by_admin"
    assert status.severity is Severity.UNKNOWN
    assert status.kind.glyph == "?"


def test_ok_status_with_raw_msg_is_a_warning() -> None:
    status = parse_status(1, {"1": {"status": "active", "raw_msg": "slow source"}})
    assert status.severity is Severity.WARNING


def test_extra_fields_are_kept() -> None:
    status = parse_status(
        5, {"success": True, "data": {"5": {"status": "active", "kubo_status_type": "rebuilding"}}}
    )
    assert status.extra == {"kubo_status_type": "rebuilding"}


@pytest.mark.parametrize(
    "payload",
    [
        [],
        "active",
        {"9": "active"},
        {"9": {"state": "x"}},
        {"success": True, "data": []},
        {"1": {"status": "a"}, "2": {"status": "b"}},
    ],
)
def test_unexpected_status_shapes_are_bad_answers(payload: object) -> None:
    with pytest.raises(BadAnswer) as info:
        parse_status(9, payload)
    assert "pipeline 9" in str(info.value)


def test_duplicate_doubly_wrapped_id() -> None:
    payload = {"success": True, "data": {"success": True, "data": {"new_pipeline_id": 123456789}}}
    assert parse_new_pipeline_id(payload) == 123456789


def test_duplicate_inner_failure_is_rejected() -> None:
    payload = {"success": True, "data": {"success": False, "error": "INVALID_DEST"}}
    with pytest.raises(Rejected) as info:
        parse_new_pipeline_id(payload)
    assert "INVALID_DEST" in str(info.value)


def test_duplicate_rate_limited() -> None:
    payload = {
        "success": False,
        "error": "RATE_LIMIT_EXCEEDED",
        "message": "Too many requests. Please try again in 60 seconds.",
    }
    with pytest.raises(RateLimited) as info:
        parse_new_pipeline_id(payload)
    assert info.value.retry_after == 60.0


def test_duplicate_without_id_is_bad_answer() -> None:
    with pytest.raises(BadAnswer):
        parse_new_pipeline_id({"success": True, "data": {"success": True, "data": {}}})


def test_every_documented_status_has_a_kind() -> None:
    documented = [
        "running",
        "scheduled",
        "active",
        "not_active",
        "building_tables",
        "error_building_tables",
        "too_many_consecutive_failed_builds",
        "too_many_consecutive_failed_builds__blocked",
    ]
    severities = {value: status_kind(value).severity for value in documented}
    assert severities["too_many_consecutive_failed_builds__blocked"] is Severity.BLOCKED
    assert severities["error_building_tables"] is Severity.ERROR
    assert severities["not_active"] is Severity.DISABLED
    assert status_kind("too_many_consecutive_failed_builds").label == (
        "too many consecutive failed builds"
    )
    assert app_url(2040) == "https://app.kondado.com.br/pipelines/2040"
