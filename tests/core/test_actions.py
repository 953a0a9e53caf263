"""What is known after a run or duplicate fails, and the log of sends of unknown outcome."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from kondado_tui.core.actions import (
    DUPLICATE_DOUBT_SECONDS,
    RUN_DOUBT_SECONDS,
    DoubtLog,
    after_failure,
    duplicate_target,
    run_target,
)
from kondado_tui.core.clock import ManualClock
from kondado_tui.core.errors import BadAnswer, Outcome, RateLimited, Rejected, Unreachable
from kondado_tui.core.guards.redact import register_secret

BODY = {
    "pipeline_id": 2040,
    "dest_collection_id": 7002,
    "src_collection_id": 5052,
    "full_tables": {"": "orders", "items": "items"},
    "execute_immediately": "N",
}


@pytest.mark.parametrize(
    ("exc", "outcome"),
    [
        (Rejected("the API refused: bad table"), Outcome.NOT_DONE),
        (RateLimited("rate limited", retry_after=47), Outcome.NOT_DONE),
        (Unreachable("cannot connect"), Outcome.NOT_DONE),
        (Unreachable("timed out", maybe_delivered=True), Outcome.UNKNOWN),
        (BadAnswer("an HTML page"), Outcome.UNKNOWN),
    ],
)
def test_each_failure_says_one_thing(exc: Exception, outcome: Outcome) -> None:
    assert isinstance(exc, Rejected | RateLimited | Unreachable | BadAnswer)
    assert exc.outcome is outcome
    dup = after_failure(exc, duplicate_target(BODY))
    run = after_failure(exc, run_target(2040, "Orders (2040)"))
    if outcome is Outcome.UNKNOWN:
        assert "may have been created" in dup and "Nothing" not in dup
        assert "may have been queued" in run and "Orders (2040)" in run
    else:
        assert dup.startswith("Nothing was created") and "may" not in dup
        assert run.startswith("Nothing was queued")
    if isinstance(exc, RateLimited):
        assert dup == "Nothing was created; try again in 47 s."


def test_the_same_base_destination_and_tables_are_the_same_send() -> None:
    renamed = {**BODY, "name": "another name", "src_collection_id": 5053}
    assert duplicate_target(renamed).key == duplicate_target(BODY).key
    swapped = {**BODY, "full_tables": {"": "items", "items": "orders"}}  # same names
    assert duplicate_target(swapped).key == duplicate_target(BODY).key
    for other in (
        {**BODY, "dest_collection_id": 7003},
        {**BODY, "pipeline_id": 2041},
        {**BODY, "full_tables": {"": "orders", "items": "items_v2"}},
    ):
        assert duplicate_target(other).key != duplicate_target(BODY).key
    assert run_target(1).key != run_target(2).key


def test_a_doubt_is_shared_by_processes_and_names_the_risk(tmp_path: Path) -> None:
    clock = ManualClock()
    path = tmp_path / "state" / "unknown.json"
    target = duplicate_target(BODY)
    DoubtLog(path, clock=clock).note_unknown(target, BadAnswer("got an HTML page"))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    clock.advance(600)
    doubt = DoubtLog(path, clock=clock).find(target)  # another process
    assert doubt is not None
    words = doubt.warning(target, clock.now())
    assert "10m ago" in words and "got an HTML page" in words
    assert "SECOND pipeline" in words and "items, orders" in words
    DoubtLog(path, clock=clock).clear(target)
    assert DoubtLog(path, clock=clock).find(target) is None


def test_doubts_expire(tmp_path: Path) -> None:
    clock = ManualClock()
    log = DoubtLog(tmp_path / "u.json", clock=clock)
    run, dup = run_target(1), duplicate_target(BODY)
    log.note_unknown(run, Unreachable("timed out", maybe_delivered=True))
    log.note_unknown(dup, Unreachable("timed out", maybe_delivered=True))
    clock.advance(RUN_DOUBT_SECONDS + 1)
    assert log.find(run) is None and log.find(dup) is not None
    clock.advance(DUPLICATE_DOUBT_SECONDS)
    assert log.find(dup) is None


def test_an_unreadable_or_unwritable_file_never_raises(tmp_path: Path) -> None:
    path = tmp_path / "u.json"
    path.write_text("{oops")
    log = DoubtLog(path, clock=ManualClock())
    target = run_target(1)
    assert log.find(target) is None and "cannot read" in log.note
    blocked = tmp_path / "file"
    blocked.write_text("")
    log = DoubtLog(blocked / "u.json", clock=ManualClock())  # its folder is a file
    log.note_unknown(target, BadAnswer("x"))
    assert "could not remember" in log.note
    assert log.find(target) is not None  # this process still knows


def test_no_secret_is_written(tmp_path: Path) -> None:
    register_secret("S3CRET-doubt-token-77")
    path = tmp_path / "u.json"
    DoubtLog(path, clock=ManualClock()).note_unknown(
        run_target(1), BadAnswer("POST /run?key=k&token=S3CRET-doubt-token-77 failed")
    )
    assert "S3CRET-doubt-token-77" not in path.read_text()


def test_in_memory_when_no_path() -> None:
    log = DoubtLog(None, clock=ManualClock())
    log.note_unknown(run_target(1), BadAnswer("x"))
    assert log.find(run_target(1)) is not None
