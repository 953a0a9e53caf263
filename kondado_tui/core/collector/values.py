"""The data inside the collector's messages, to JSON and back: statuses, failures, the
poller's health, history (transitions, runs, summaries) and typed errors.

Encoding cuts every text to what the protocol carries (it was cleaned where it came in);
decoding checks every field and cleans every text again (`api.remote_text`), so what a
viewer shows went through the same guard as an API answer.
"""

from __future__ import annotations

from enum import Enum
from typing import Any, TypeVar

from kondado_tui.core.api import remote_text
from kondado_tui.core.collector.messages import (
    CUT_ROOM,
    HISTORY_TEXT,
    MAX_SUMMARIES,
    MAX_TEXT,
    TIME_SLACK,
)
from kondado_tui.core.config import MAX_PIPELINE_ID
from kondado_tui.core.errors import (
    ApiError,
    BadAnswer,
    FailureKind,
    KondadoError,
    Outcome,
    RateLimited,
    Rejected,
    Unreachable,
    ValidationError,
)
from kondado_tui.core.events import (
    BudgetShare,
    Connection,
    Health,
    HealthChanged,
    PipelineFailed,
    Refusal,
    StatusObserved,
)
from kondado_tui.core.guards.limits import MAX_FIELD, MAX_MESSAGE, MAX_WORD
from kondado_tui.core.history.timeline import (
    HistorySummary,
    RunOutcome,
    RunSummary,
    Transition,
)
from kondado_tui.core.localsock.framing import (
    check_bool,
    check_dict,
    check_fields,
    check_int,
    check_list,
    check_number,
    check_optional,
    check_str,
    fail,
)
from kondado_tui.core.models import Observation, PipelineStatus

E = TypeVar("E", bound=Enum)


def cut_for_wire(text: str | None, limit: int) -> str | None:
    """A text cut for the wire (it was cleaned where it came in; it is cleaned again
    where it arrives)."""
    return None if text is None else text[: limit + CUT_ROOM]


def _status_json(status: PipelineStatus) -> dict[str, Any]:
    return {
        "st": status.status[:MAX_WORD],
        "run": status.is_running,
        "act": status.is_active,
        "blk": status.is_blocked,
        "msg": cut_for_wire(status.raw_msg, MAX_MESSAGE),
    }


def observed_json(event: StatusObserved) -> dict[str, Any]:
    return {
        "id": event.pipeline_id,
        "s": _status_json(event.observation.status),
        "at": event.observation.observed_at,
        "since": event.since,
        "first": event.since_first_seen,
    }


def failed_json(event: PipelineFailed) -> dict[str, Any]:
    return {
        "id": event.pipeline_id,
        "kind": event.kind.value,
        "msg": cut_for_wire(event.message, MAX_MESSAGE),
        "at": event.at,
        "ref": None if event.refusal is None else event.refusal.value,
        "since": event.since,
    }


def health_json(health: Health) -> dict[str, Any]:
    share = health.share
    return {
        "conn": health.connection.value,
        "msg": cut_for_wire(health.message, MAX_TEXT),
        "retry": health.retry_at,
        "ok_at": health.last_success_at,
        "paused": health.paused,
        "bpm": health.budget_per_minute,
        "used": health.used_last_minute,
        "next": health.next_poll_at,
        "max_age": health.max_age,
        "shared": health.shared_ledger,
        "note": cut_for_wire(health.ledger_note, MAX_TEXT),
        "low": health.lowered_to,
        "share": None
        if share is None
        else {
            "host": share.host_wide,
            "procs": share.processes,
            "logins": share.logins,
            "part": share.share,
            "serving": share.serving,
            "why": cut_for_wire(share.why_alone, MAX_TEXT),
        },
        "n": health.pipelines,
        "hist": health.from_history,
        "hs": cut_for_wire(health.history_short, MAX_FIELD),
        "hp": cut_for_wire(health.history_problem, MAX_TEXT),
        "hf": health.history_failing_since,
    }


def transition_json(t: Transition) -> dict[str, Any]:
    return {
        "id": t.pipeline_id,
        "at": t.at,
        "from": None if t.from_status is None else t.from_status[:MAX_WORD],
        "to": t.to_status[:MAX_WORD],
        "msg": cut_for_wire(t.raw_msg, HISTORY_TEXT),
        "prev": t.previous_seen_at,
        "run": t.is_running,
        "act": t.is_active,
        "blk": t.is_blocked,
        "ref": None if t.refusal is None else t.refusal.value,
    }


def _run_json(run: RunSummary | None) -> dict[str, Any] | None:
    if run is None:
        return None
    return {
        "id": run.pipeline_id,
        "start": run.started_at,
        "end": run.ended_at,
        "out": run.outcome.value,
        "end_st": None if run.end_status is None else run.end_status[:MAX_WORD],
        "msg": cut_for_wire(run.raw_msg, HISTORY_TEXT),
        "seen": run.start_seen,
        "unc": run.uncertainty,
    }


def summary_json(summary: HistorySummary) -> dict[str, Any]:
    return {
        "last": _run_json(summary.last_run),
        "cur": _run_json(summary.current_run),
        "ok_at": summary.last_success_at,
        "fail": None if summary.last_failure is None else transition_json(summary.last_failure),
        "mesg": None if summary.last_message is None else transition_json(summary.last_message),
        "dur": list(summary.recent_durations[-MAX_SUMMARIES:]),
    }


_ERROR_KINDS: dict[type[KondadoError], str] = {
    RateLimited: "rate_limited",
    Rejected: "rejected",
    Unreachable: "unreachable",
    BadAnswer: "bad_answer",
    ValidationError: "invalid",
    ApiError: "api",
}


def error_json(error: KondadoError) -> dict[str, Any]:
    kind = next((k for t, k in _ERROR_KINDS.items() if type(error) is t), "other")
    problems = error.problems if isinstance(error, ValidationError) else None
    return {
        "kind": kind,
        "msg": cut_for_wire(str(error), MAX_TEXT),
        "outcome": error.outcome.value if isinstance(error, ApiError) else Outcome.NOT_DONE.value,
        "retry": error.retry_after if isinstance(error, RateLimited) else None,
        "http": getattr(error, "http_status", None),
        "auth": bool(getattr(error, "auth", False)),
        "error": cut_for_wire(getattr(error, "error", ""), MAX_FIELD),
        "problems": None
        if problems is None
        else {k[:MAX_WORD]: v[:MAX_TEXT] for k, v in list(problems.items())[:64]},
    }


def pipeline_id(value: Any) -> int:
    return check_int(value, 1, MAX_PIPELINE_ID)


def read_time(value: Any, now: float) -> float:
    return check_number(value, 0.0, now + TIME_SLACK)


def _opt_time(value: Any, now: float) -> float | None:
    return check_optional(value, lambda v: read_time(v, now))


def read_text(value: Any, limit: int, *, multiline: bool = False) -> str:
    return remote_text(check_str(value, limit + CUT_ROOM), limit, multiline=multiline)


def read_optional_text(value: Any, limit: int, *, multiline: bool = True) -> str | None:
    if value is None:
        return None
    return read_text(value, limit, multiline=multiline) or None


def _word(value: Any) -> str:
    word = read_text(value, MAX_WORD).strip()
    if not word:
        fail("an empty status")
    return word


def _enum(enum: type[E], value: Any) -> E:
    try:
        return enum(value)
    except (ValueError, TypeError):
        fail("a value this protocol does not know")


def _status(pid: int, data: Any) -> PipelineStatus:
    data = check_dict(data)
    check_fields(data, {"st", "run", "act", "blk", "msg"})
    return PipelineStatus(
        pipeline_id=pid,
        status=_word(data["st"]),
        is_running=check_bool(data["run"]),
        is_active=check_bool(data["act"]),
        is_blocked=check_bool(data["blk"]),
        raw_msg=read_optional_text(data["msg"], MAX_MESSAGE),
    )


OBSERVED_FIELDS = frozenset({"id", "s", "at", "since", "first"})


def read_observed(data: dict[str, Any], now: float) -> StatusObserved:
    pid = pipeline_id(data["id"])
    at = read_time(data["at"], now)
    since = read_time(data["since"], now)
    observation = Observation(_status(pid, data["s"]), at)
    return StatusObserved(pid, observation, None, since, check_bool(data["first"]))


def read_failed(data: dict[str, Any], now: float) -> PipelineFailed:
    refusal = data["ref"]
    return PipelineFailed(
        pipeline_id=pipeline_id(data["id"]),
        kind=_enum(FailureKind, data["kind"]),
        message=read_text(data["msg"], MAX_MESSAGE, multiline=True),
        at=read_time(data["at"], now),
        refusal=None if refusal is None else _enum(Refusal, refusal),
        since=_opt_time(data["since"], now),
    )


_SHARE_FIELDS = frozenset({"host", "procs", "logins", "part", "serving", "why"})


def _share(value: Any) -> BudgetShare | None:
    if value is None:
        return None
    data = check_dict(value)
    check_fields(data, _SHARE_FIELDS)
    processes = check_int(data["procs"], 1, 100_000)
    return BudgetShare(
        host_wide=check_bool(data["host"]),
        processes=processes,
        logins=check_int(data["logins"], 1, processes),
        share=check_number(data["part"], 0.0, 1.0),
        serving=check_bool(data["serving"]),
        why_alone=read_text(data["why"], MAX_TEXT),
    )


def read_health(data: dict[str, Any], now: float) -> HealthChanged:
    low = data["low"]
    return HealthChanged(
        Health(
            connection=_enum(Connection, data["conn"]),
            message=read_text(data["msg"], MAX_TEXT),
            retry_at=_opt_time(data["retry"], now),
            last_success_at=_opt_time(data["ok_at"], now),
            paused=check_bool(data["paused"]),
            budget_per_minute=check_int(data["bpm"], 1, 1000),
            used_last_minute=check_int(data["used"], 0, 100_000),
            next_poll_at=_opt_time(data["next"], now),
            max_age=check_number(data["max_age"], 0.0, 10 * 365 * 86400.0),
            shared_ledger=check_bool(data["shared"]),
            ledger_note=read_text(data["note"], MAX_TEXT),
            lowered_to=None if low is None else check_int(low, 1, 1000),
            share=_share(data["share"]),
            pipelines=check_optional(data["n"], lambda v: check_int(v, 0, 10_000_000)),
            from_history=check_int(data["hist"], 0, 10_000_000),
            history_short=read_text(data["hs"], MAX_FIELD),
            history_problem=read_text(data["hp"], MAX_TEXT),
            history_failing_since=_opt_time(data["hf"], now),
        )
    )


_TRANSITION_FIELDS = frozenset(
    {"id", "at", "from", "to", "msg", "prev", "run", "act", "blk", "ref"}
)


def read_transition(value: Any, now: float) -> Transition:
    data = check_dict(value)
    check_fields(data, _TRANSITION_FIELDS)
    refusal = data["ref"]
    return Transition(
        pipeline_id=pipeline_id(data["id"]),
        at=read_time(data["at"], now),
        from_status=check_optional(data["from"], _word),
        to_status=_word(data["to"]),
        raw_msg=read_optional_text(data["msg"], HISTORY_TEXT),
        previous_seen_at=_opt_time(data["prev"], now),
        is_running=check_bool(data["run"]),
        is_active=check_bool(data["act"]),
        is_blocked=check_bool(data["blk"]),
        refusal=None if refusal is None else _enum(Refusal, refusal),
    )


_RUN_FIELDS = frozenset({"id", "start", "end", "out", "end_st", "msg", "seen", "unc"})


def _run(value: Any, now: float) -> RunSummary | None:
    if value is None:
        return None
    data = check_dict(value)
    check_fields(data, _RUN_FIELDS)
    return RunSummary(
        pipeline_id=pipeline_id(data["id"]),
        started_at=read_time(data["start"], now),
        ended_at=_opt_time(data["end"], now),
        outcome=_enum(RunOutcome, data["out"]),
        end_status=check_optional(data["end_st"], _word),
        raw_msg=read_optional_text(data["msg"], HISTORY_TEXT),
        start_seen=check_bool(data["seen"]),
        uncertainty=check_number(data["unc"], 0.0, 10 * 365 * 86400.0),
    )


_SUMMARY_FIELDS = frozenset({"last", "cur", "ok_at", "fail", "mesg", "dur"})


def read_summary(value: Any, now: float) -> HistorySummary:
    data = check_dict(value)
    check_fields(data, _SUMMARY_FIELDS)
    durations = check_list(data["dur"], MAX_SUMMARIES)
    return HistorySummary(
        last_run=_run(data["last"], now),
        current_run=_run(data["cur"], now),
        last_success_at=_opt_time(data["ok_at"], now),
        last_failure=check_optional(data["fail"], lambda v: read_transition(v, now)),
        last_message=check_optional(data["mesg"], lambda v: read_transition(v, now)),
        recent_durations=tuple(check_number(d, 0.0, 10 * 365 * 86400.0) for d in durations),
    )


_ERROR_FIELDS = frozenset({"kind", "msg", "outcome", "retry", "http", "auth", "error", "problems"})


def read_error(value: Any) -> KondadoError:
    data = check_dict(value)
    check_fields(data, _ERROR_FIELDS)
    kind = data["kind"]
    message = read_text(data["msg"], MAX_TEXT)
    outcome = _enum(Outcome, data["outcome"])
    http = check_optional(data["http"], lambda v: check_int(v, 0, 999))
    auth = check_bool(data["auth"])
    if kind == "rate_limited":
        return RateLimited(message, check_number(data["retry"], 0.0, 86400.0))
    if kind == "rejected":
        return Rejected(
            message, error=read_text(data["error"], MAX_FIELD), http_status=http or 200, auth=auth
        )
    if kind == "unreachable":
        return Unreachable(message, maybe_delivered=outcome is Outcome.UNKNOWN)
    if kind == "bad_answer":
        return BadAnswer(message, http_status=http or 200, outcome=outcome)
    if kind == "invalid":
        raw = check_dict(data["problems"])
        if len(raw) > 64:
            fail("too many problems")
        problems = {read_text(k, MAX_WORD): read_text(v, MAX_TEXT) for k, v in raw.items()}
        return ValidationError(problems)
    if kind == "api":
        return _api_error(message, outcome)
    if kind == "other":
        return KondadoError(message)
    fail("an unknown kind of error")


def _api_error(message: str, outcome: Outcome) -> ApiError:
    error = ApiError(message)
    error.outcome = outcome
    return error


def _items(value: Any, limit: int) -> list[Any]:
    return check_list(value, limit)


__all__ = [
    "OBSERVED_FIELDS",
    "cut_for_wire",
    "error_json",
    "failed_json",
    "health_json",
    "observed_json",
    "pipeline_id",
    "read_error",
    "read_failed",
    "read_health",
    "read_observed",
    "read_optional_text",
    "read_summary",
    "read_text",
    "read_time",
    "read_transition",
    "summary_json",
    "transition_json",
]
